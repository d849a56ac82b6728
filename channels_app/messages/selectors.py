"""Reads: the catalogue, a channel's messages and members, for a given reader.

Selectors take a ChannelAccess already checked by the caller's service or guard, so the
rule "who may read" lives in permissions/access.py alone; they only shape the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from channels_app.models import (
    Attachment,
    Channel,
    IdentityKey,
    Message,
)
from permissions.access import (
    ChannelAccess,
    channel_access_many,
    current_members,
    readable_since,
)
from permissions.models import Admission, Institution, User

MAX_PAGE = 200


@dataclass(frozen=True)
class CatalogueEntry:
    channel: Channel
    access: ChannelAccess
    institutions: list[Institution]


def channel_get(*, slug: str) -> Channel | None:
    """The channel with `slug`, or None; nothing about who may see it (callers ask
    permissions.access, or a service that does, before they show anything)."""
    return Channel.objects.filter(slug=slug).first()


def channel_catalogue(user: User) -> list[CatalogueEntry]:
    """Every listed channel, and the unlisted ones the user is a member of."""
    channels = list(Channel.objects.order_by("title"))
    accesses = channel_access_many(user, channels)
    admitted: dict[int, list[Institution]] = {}
    for admission in Admission.objects.select_related("institution").filter(
        institution__active=True
    ):
        admitted.setdefault(admission.channel_id, []).append(admission.institution)
    return [
        CatalogueEntry(channel=c, access=accesses[c.pk], institutions=admitted.get(c.pk, []))
        for c in channels
        if c.listed or accesses[c.pk].is_member
    ]


def with_related(messages: QuerySet[Message] | Any) -> QuerySet[Message]:
    """Everything message_payload reads, loaded in a constant number of queries."""
    return messages.select_related("author", "author__institution", "channel").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.select_related("epoch").order_by("id"))
    )


def _messages_for(access: ChannelAccess) -> QuerySet[Message]:
    messages = with_related(Message.objects.filter(channel=access.channel))
    joined = readable_since(access)
    if joined is not None:
        messages = messages.filter(created_at__gte=joined)
    return messages


def message_list(
    access: ChannelAccess,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[Message]:
    """Messages in ascending id order.

    With `after`, the first `limit` messages after it (catching up); otherwise the
    newest `limit` messages, before `before` if given (scrolling back).
    """
    limit = max(1, min(limit, MAX_PAGE))
    messages = _messages_for(access)
    if before is not None:
        messages = messages.filter(id__lt=before)
    if after is not None:
        return list(messages.filter(id__gt=after).order_by("id")[:limit])
    return list(reversed(messages.order_by("-id")[:limit]))


@dataclass(frozen=True)
class Member:
    user: User
    role: str


def channel_members(channel: Channel) -> list[Member]:
    """The people who currently hold access (permissions.access.current_members), each
    with their role there."""
    return [
        Member(user=user, role=user.member_role)  # type: ignore[attr-defined]
        for user in current_members(channel)
    ]


def catalogue_entry(access: ChannelAccess) -> CatalogueEntry:
    institutions = [
        a.institution
        for a in Admission.objects.select_related("institution").filter(
            channel=access.channel, institution__active=True
        )
    ]
    return CatalogueEntry(channel=access.channel, access=access, institutions=institutions)


def current_keys(channel: Channel) -> dict[str, str]:
    """username → current identity key, for the members who have registered one."""
    members = {m.user.pk: m.user.username for m in channel_members(channel)}
    keys = IdentityKey.objects.filter(user_id__in=members, replaced_at__isnull=True)
    return {members[k.user_id]: k.public_key for k in keys}
