"""API routes about channels and messages (SPEC §3).

Each route parses its input, calls one service or selector, and shapes the answer; the
rules (who may, what is valid) live in the services and permissions.access.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from channels_app.evaluations.schemas import evaluation_value
from channels_app.evaluations.selectors import evaluation_history
from channels_app.keys.selectors import current_epoch
from channels_app.messages import selectors, services
from channels_app.messages.payloads import (
    author_ref,
    evaluation_change_payload,
    institution_ref,
    message_payload,
)
from channels_app.messages.schemas import (
    EvaluationChangeOut,
    InstitutionRef,
    MessageDraft,
    MessageEdit,
    MessageOut,
)
from permissions.access import Need, access_channel, message_by_id
from permissions.people.api import request_user

router = Router(tags=["channels"])


class ChannelOut(Schema):
    slug: str
    title: str
    theme: str
    description: str
    listed: bool
    archived: bool
    history_visibility: str
    max_handling_code: str
    institutions: list[InstitutionRef]
    is_member: bool
    role: str | None
    is_moderator: bool


class ChannelDetailOut(ChannelOut):
    epoch: int | None = Field(description="The current epoch number; null before the first")
    epoch_stale: bool = Field(description="True while the current epoch awaits rotation")
    last_seq: int


class MemberOut(Schema):
    username: str
    display_name: str
    institution: InstitutionRef | None
    role: str
    public_key: str | None


class MessagePage(Schema):
    after: int | None = Field(default=None, ge=0)
    before: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=selectors.MAX_PAGE)


def _channel_out(entry: selectors.CatalogueEntry) -> dict[str, object]:
    channel, access = entry.channel, entry.access
    return {
        "slug": channel.slug,
        "title": channel.title,
        "theme": channel.theme,
        "description": channel.description,
        "listed": channel.listed,
        "archived": channel.archived,
        "history_visibility": channel.history_visibility,
        "max_handling_code": channel.max_handling_code,
        "institutions": [institution_ref(i) for i in entry.institutions],
        "is_member": access.is_member,
        "role": "moderator" if access.is_moderator else (access.role if access.is_member else None),
        "is_moderator": access.is_moderator,
    }


@router.get("/channels", response=list[ChannelOut], summary="The channel catalogue")
def channel_list(request: HttpRequest) -> list[dict[str, object]]:
    return [_channel_out(e) for e in selectors.channel_catalogue(request_user(request))]


@router.get("/channels/{slug}", response=ChannelDetailOut, summary="One channel")
def channel_detail(request: HttpRequest, slug: str) -> dict[str, object]:
    access = access_channel(request_user(request), slug, Need.READ)
    entry = selectors.catalogue_entry(access)
    epoch = current_epoch(access.channel)
    return {
        **_channel_out(entry),
        "epoch": epoch.number if epoch else None,
        "epoch_stale": bool(epoch and epoch.stale),
        "last_seq": access.channel.last_seq,
    }


@router.get(
    "/channels/{slug}/messages", response=list[MessageOut], summary="Messages, ascending by id"
)
def message_list(request: HttpRequest, slug: str, page: Query[MessagePage]) -> list[MessageOut]:
    access = access_channel(request_user(request), slug, Need.READ)
    messages = selectors.message_list(
        access, after=page.after, before=page.before, limit=page.limit
    )
    return [message_payload(m) for m in messages]


@router.post(
    "/channels/{slug}/messages",
    response={200: MessageOut, 201: MessageOut},
    summary="Post a message (idempotent per client_id)",
)
def message_create(request: HttpRequest, slug: str, payload: MessageDraft) -> Status[MessageOut]:
    message, created = services.message_send(
        actor=request_user(request),
        channel_slug=slug,
        client_id=payload.client_id,
        body=payload.body,
        parent=payload.parent,
        attachments=payload.attachments,
        handling_code=payload.handling_code,
        evaluation=evaluation_value(payload.evaluation),
    )
    return Status(201 if created else 200, message_payload(message))


@router.patch(
    "/messages/{message_id}",
    response=MessageOut,
    summary="Edit one's own message: its body, its evaluation (null withdraws it), or both",
)
def message_update(request: HttpRequest, message_id: int, payload: MessageEdit) -> MessageOut:
    message = services.message_edit(
        actor=request_user(request),
        message_id=message_id,
        body=payload.body,
        evaluation=payload.evaluation_change(),
    )
    return message_payload(message)


@router.get(
    "/messages/{message_id}/evaluations",
    response=list[EvaluationChangeOut],
    summary="Every setting of a message's evaluation, oldest first",
)
def evaluation_list(request: HttpRequest, message_id: int) -> list[EvaluationChangeOut]:
    message, _ = message_by_id(request_user(request), message_id)
    changes = evaluation_history(message_id=message.pk)
    return [evaluation_change_payload(c) for c in changes]


@router.delete(
    "/messages/{message_id}",
    response=MessageOut,
    summary="Delete a message (author or moderator); a tombstone stays",
)
def message_remove(request: HttpRequest, message_id: int) -> MessageOut:
    message = services.message_delete(actor=request_user(request), message_id=message_id)
    return message_payload(message)


@router.get(
    "/channels/{slug}/members",
    response=list[MemberOut],
    summary="The people who currently hold access",
)
def member_list(request: HttpRequest, slug: str) -> list[dict[str, object]]:
    access = access_channel(request_user(request), slug, Need.READ)
    keys = selectors.current_keys(access.channel)
    return [
        {**author_ref(m.user), "role": m.role, "public_key": keys.get(m.user.username)}
        for m in selectors.channel_members(access.channel)
    ]
