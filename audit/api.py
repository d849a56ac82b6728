"""Reading the audit log over the API (SPEC §3): platform admins all of it, moderators
the events of their channels; everyone else is refused. The events carry exactly the
fields their hash covers, so a client can check the chain itself."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from audit.chain import canonical_fields, verify
from audit.readers import readable_channel_ids
from audit.selectors import audit_event_list
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
    rows = audit_event_list(
        readable=_readable_channels(request),
        after=filters.after,
        limit=filters.limit,
        channel_slug=filters.channel,
    )
    return [
        EventOut(**canonical_fields(row.event), channel=row.channel_slug, hash=row.event.hash)
        for row in rows
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
