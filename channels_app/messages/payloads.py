"""The message object of SPEC §4, built in one place for the API and the socket alike.

The shapes are defined once, in channels_app.messages.schemas; these builders fill them
from loaded models. Authors, institutions and evaluations appear the same way beside
documents too (channels_app.documents.payloads).
"""

from __future__ import annotations

from datetime import datetime

from channels_app.evaluations.pair import evaluation_now
from channels_app.messages.schemas import (
    AuthorOut,
    EvaluationChangeOut,
    EvaluationOut,
    InstitutionRef,
    MessageOut,
)
from channels_app.models import Document, EvaluationChange, Message
from permissions.models import Institution, User


def institution_ref(institution: Institution | None) -> InstitutionRef | None:
    """How an institution appears beside content: in messages, members and the catalogue."""
    if institution is None:
        return None
    return {"slug": institution.slug, "name": institution.name, "country": str(institution.country)}


def iso_time(moment: datetime | None) -> str | None:
    """A timestamp as the API writes it: ISO 8601, UTC as `Z`."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def author_ref(user: User) -> AuthorOut:
    """How a person appears beside what they wrote or changed."""
    return {
        "username": user.username,
        "display_name": user.shown_name,
        "institution": institution_ref(user.institution),
    }


def evaluation_payload(message: Message | Document) -> EvaluationOut | None:
    """The evaluation a message (none on a tombstone) or a document carries now."""
    value = None if getattr(message, "deleted_at", None) else evaluation_now(message)
    if value is None:
        return None
    return {
        "source_reliability": value.source_reliability,
        "information_assessment": value.information_assessment,
    }


def evaluation_change_payload(change: EvaluationChange) -> EvaluationChangeOut:
    """One entry of a message's evaluation history; both halves null: withdrawn."""
    return {
        "source_reliability": change.source_reliability or None,
        "information_assessment": change.information_assessment,
        "changed_by": author_ref(change.changed_by),
        "changed_at": iso_time(change.changed_at) or "",
    }


def message_payload(message: Message, *, channel_slug: str | None = None) -> MessageOut:
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
        "created_at": iso_time(message.created_at) or "",
        "edited_at": iso_time(message.edited_at),
        "deleted": message.deleted_at is not None,
        "evaluation": evaluation_payload(message),
    }
