"""The message object of SPEC §4, built in one place for the API and the socket alike."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from channels_app.evaluations.pair import evaluation_now
from channels_app.models import Document, EvaluationChange, Message
from permissions.models import Institution, User


class InstitutionPayload(TypedDict):
    slug: str
    name: str
    country: str


class AuthorPayload(TypedDict):
    username: str
    display_name: str
    institution: InstitutionPayload | None


class AttachmentPayload(TypedDict):
    id: int
    size: int
    epoch: int


class EvaluationPayload(TypedDict):
    source_reliability: str
    information_assessment: int


class MessagePayload(TypedDict):
    id: int
    seq: int
    channel: str
    author: AuthorPayload
    body: str
    html: str
    parent: int | None
    attachments: list[AttachmentPayload]
    handling_code: str
    created_at: str
    edited_at: str | None
    deleted: bool
    evaluation: EvaluationPayload | None


class VersionAttachmentPayload(TypedDict):
    id: int
    size: int
    sha256: str
    epoch: int


class VersionPayload(TypedDict):
    number: int
    attachment: VersionAttachmentPayload
    author: AuthorPayload
    note: str
    created_at: str


class DocumentPayload(TypedDict):
    id: int
    channel: str
    title: str
    summary: str
    summary_html: str
    tags: list[str]
    language: str
    institution: InstitutionPayload | None
    handling_code: str
    author: AuthorPayload
    created_at: str
    updated_at: str
    evaluation: EvaluationPayload | None
    versions: list[VersionPayload]


class EvaluationChangePayload(TypedDict):
    source_reliability: str | None
    information_assessment: int | None
    changed_by: AuthorPayload
    changed_at: str


def institution_ref(institution: Institution | None) -> InstitutionPayload | None:
    """How an institution appears beside content: in messages, members and the catalogue."""
    if institution is None:
        return None
    return {"slug": institution.slug, "name": institution.name, "country": str(institution.country)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def author_ref(user: User) -> AuthorPayload:
    """How a person appears beside what they wrote or changed."""
    return {
        "username": user.username,
        "display_name": user.shown_name,
        "institution": institution_ref(user.institution),
    }


def evaluation_payload(message: Message | Document) -> EvaluationPayload | None:
    """The evaluation a message (none on a tombstone) or a document carries now."""
    value = None if getattr(message, "deleted_at", None) else evaluation_now(message)
    if value is None:
        return None
    return {
        "source_reliability": value.source_reliability,
        "information_assessment": value.information_assessment,
    }


def evaluation_change_payload(change: EvaluationChange) -> EvaluationChangePayload:
    """One entry of a message's evaluation history; both halves null: withdrawn."""
    return {
        "source_reliability": change.source_reliability or None,
        "information_assessment": change.information_assessment,
        "changed_by": author_ref(change.changed_by),
        "changed_at": _iso(change.changed_at) or "",
    }


def message_payload(message: Message, *, channel_slug: str | None = None) -> MessagePayload:
    """Serialise one message. Expects author, author.institution and channel loaded.

    A deleted message is a tombstone: its id, seq and place in a thread stay, its body
    and rendering are gone.
    """
    return {
        "id": message.pk,
        "seq": message.seq,
        "channel": channel_slug or message.channel.slug,
        "author": author_ref(message.author),
        "body": "" if message.deleted_at else message.body,
        "html": "" if message.deleted_at else message.html,
        "parent": message.parent_id,
        "attachments": [
            {"id": a.pk, "size": a.size, "epoch": a.epoch.number}
            for a in (message.attachments.all() if not message.deleted_at else [])
        ],
        "handling_code": message.handling_code,
        "created_at": _iso(message.created_at) or "",
        "edited_at": _iso(message.edited_at),
        "deleted": message.deleted_at is not None,
        "evaluation": evaluation_payload(message),
    }


def document_payload(document: Document) -> DocumentPayload:
    """Serialise one document. Expects what document_selectors.with_document_related loads."""
    return {
        "id": document.pk,
        "channel": document.channel.slug,
        "title": document.title,
        "summary": document.summary,
        "summary_html": document.summary_html,
        "tags": sorted(t.name for t in document.tags.all()),
        "language": document.language,
        "institution": institution_ref(document.institution),
        "handling_code": document.handling_code,
        "author": author_ref(document.author),
        "created_at": _iso(document.created_at) or "",
        "updated_at": _iso(document.updated_at) or "",
        "evaluation": evaluation_payload(document),
        "versions": [
            {
                "number": v.number,
                "attachment": {
                    "id": v.attachment.pk,
                    "size": v.attachment.size,
                    "sha256": v.attachment.sha256,
                    "epoch": v.attachment.epoch.number,
                },
                "author": author_ref(v.author),
                "note": v.note,
                "created_at": _iso(v.created_at) or "",
            }
            for v in document.versions.all()
        ],
    }
