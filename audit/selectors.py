"""Reads of the audit log for its API (GET /api/v1/audit) and its page (/audit/).

Who may read which events is audit.readers' rule; callers pass what it answered as
`readable` (None: every event, else these channels' ids). These only shape the queries.
The reading side sits above channels_app (pyproject.toml, contract "apps"), so it names
the Channel model directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator

from audit.models import AuditEvent
from channels_app.models import Channel
from exchange.kernel.errors import NotFound

PAGE_SIZE = 50


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    channel_slug: str | None  # not covered by the hash: the channel may be renamed


def audit_event_list(
    *, readable: list[int] | None, after: int, limit: int, channel_slug: str | None = None
) -> list[EventRow]:
    """Up to `limit` events after sequence number `after`, oldest first, of channel
    `channel_slug` if given, else of every readable channel.

    Raises NotFound (field "channel") for a channel that does not exist or is not
    readable: the two look the same. Three queries at most, however long the page.
    """
    events = AuditEvent.objects.filter(seq__gt=after)
    if channel_slug is not None:
        channel = Channel.objects.filter(slug=channel_slug).first()
        if channel is None or (readable is not None and channel.pk not in readable):
            raise NotFound("No such channel.", field="channel")
        events = events.filter(channel_id=channel.pk)
    elif readable is not None:
        events = events.filter(channel_id__in=readable)
    page = list(events.order_by("seq")[:limit])
    # Keyed by int | None: events about no channel (sign-ins, institutions) find nothing.
    slugs: dict[int | None, str] = dict(
        Channel.objects.filter(pk__in={e.channel_id for e in page}).values_list("pk", "slug")
    )
    return [EventRow(event=e, channel_slug=slugs.get(e.channel_id)) for e in page]


def audit_channel_choices(*, readable: list[int] | None) -> list[Channel]:
    """The channels whose events the reader may filter by, by title."""
    channels = Channel.objects.order_by("title")
    if readable is not None:
        channels = channels.filter(pk__in=readable)
    return list(channels)


def audit_event_page(
    *, readable: list[int] | None, channel_id: int | None, page_number: str | None
) -> Page[AuditEvent]:
    """One page of PAGE_SIZE events, newest first, of channel `channel_id` if given
    (the caller checked it is readable), else of every readable channel. A page number
    out of range gives the last page (Paginator.get_page)."""
    events = AuditEvent.objects.order_by("-seq")
    if readable is not None:
        events = events.filter(channel_id__in=readable)
    if channel_id is not None:
        events = events.filter(channel_id=channel_id)
    return Paginator(events, PAGE_SIZE).get_page(page_number)
