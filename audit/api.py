"""Reading the audit log over the API (SPEC §3): platform admins all of it, moderators
the events of their channels; everyone else is refused. The events carry exactly the
fields their hash covers, so a client can check the chain itself."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from audit.chain import canonical_fields, verify
from audit.models import AuditEvent
from audit.readers import readable_channel_ids
from exchange.kernel.errors import NotFound
from permissions.people.api import request_user

router = Router(tags=["audit"])


class EventOut(Schema):
    seq: int
    time: str
    actor: str | None
    actor_id: int | None
    action: str
    channel_id: int | None
    channel: str | None = Field(description="The channel's slug; not covered by the hash")
    target: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class EventFilter(Schema):
    channel: str | None = Field(default=None, max_length=64)
    after: int = Field(default=0, ge=0, description="Only events after this sequence number")
    limit: int = Field(default=200, ge=1, le=1000)


class VerifyOut(Schema):
    ok: bool
    events: int
    head: str
    broken_seq: int | None
    reason: str


def _readable_channels(request: HttpRequest) -> list[int] | None:
    """None for a platform admin (everything), else the channels they moderate."""
    return readable_channel_ids(request_user(request))


@router.get("/audit", response=list[EventOut], summary="Audit events, oldest first")
def audit_list(request: HttpRequest, filters: Query[EventFilter]) -> list[EventOut]:
    readable = _readable_channels(request)
    channel_model = apps.get_model("channels_app", "Channel")
    events = AuditEvent.objects.filter(seq__gt=filters.after)
    if filters.channel is not None:
        channel = channel_model.objects.filter(slug=filters.channel).first()
        if channel is None or (readable is not None and channel.pk not in readable):
            raise NotFound("No such channel.", field="channel")
        events = events.filter(channel_id=channel.pk)
    elif readable is not None:
        events = events.filter(channel_id__in=readable)
    page = list(events.order_by("seq")[: filters.limit])
    slugs = dict(
        channel_model.objects.filter(pk__in={e.channel_id for e in page}).values_list("pk", "slug")
    )
    return [
        EventOut(**canonical_fields(e), channel=slugs.get(e.channel_id), hash=e.hash) for e in page
    ]


@router.get(
    "/audit/verify",
    response=VerifyOut,
    summary="Check the whole hash chain (platform admins and moderators)",
)
def audit_verify(request: HttpRequest) -> VerifyOut:
    _readable_channels(request)
    verdict = verify()
    return VerifyOut(
        ok=verdict.ok,
        events=verdict.events,
        head=verdict.head,
        broken_seq=verdict.broken_seq,
        reason=verdict.reason,
    )
