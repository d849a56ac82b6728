"""The message object of SPEC §4, built in one place for the API and the socket alike."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from channels_app.models import Message
from permissions.models import Institution


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


def institution_ref(institution: Institution | None) -> InstitutionPayload | None:
    """How an institution appears beside content: in messages, members and the catalogue."""
    if institution is None:
        return None
    return {"slug": institution.slug, "name": institution.name, "country": str(institution.country)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def message_payload(message: Message, *, channel_slug: str | None = None) -> MessagePayload:
    """Serialise one message. Expects author, author.institution and channel loaded.

    A deleted message is a tombstone: its id, seq and place in a thread stay, its body
    and rendering are gone.
    """
    author = message.author
    institution = author.institution
    return {
        "id": message.pk,
        "seq": message.seq,
        "channel": channel_slug or message.channel.slug,
        "author": {
            "username": author.username,
            "display_name": author.shown_name,
            "institution": institution_ref(institution),
        },
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
    }
