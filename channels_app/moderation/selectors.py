"""Reads for the moderation pages and the catalogue's moderation hints.

Who may read what is decided before these are called (permissions.access and the
services' own list functions); these only shape the queries the pages need.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from channels_app.models import Channel, Report, ReportState
from permissions.access import current_members
from permissions.models import (
    AccessRequest,
    AccessRequestState,
    Institution,
    User,
)

EXCERPT_CHARS = 200


def admittable_institutions(channel: Channel) -> QuerySet[Institution]:
    """Active institutions not admitted yet: what the "admit" select offers."""
    return Institution.objects.filter(active=True).exclude(admissions__channel=channel)


def admittable_institution_get(*, channel: Channel, slug: str) -> Institution | None:
    """The institution with `slug` if the "admit" select offers it, else None."""
    return admittable_institutions(channel).filter(slug=slug).first()


def bannable_users(channel: Channel) -> QuerySet[User]:
    """Who a ban can take access from: the channel's current members (so not banned yet,
    permissions.access.current_members) other than its moderators: a ban would not take
    their access (their own permission keeps it), and only platform admins appoint or
    drop them."""
    return current_members(channel, moderators=False)


def bannable_user_get(*, channel: Channel, username: str) -> User | None:
    """The user named `username` if a ban here could take their access, else None."""
    return bannable_users(channel).filter(username=username).first()


def excerpt(text: str) -> str:
    """A report's view of the reported message: enough to judge it, not the whole text."""
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


@dataclass(frozen=True)
class ModerationCounts:
    open_requests: int = 0
    open_reports: int = 0

    @property
    def any(self) -> bool:
        return bool(self.open_requests or self.open_reports)


def moderation_counts(channel_ids: list[int]) -> dict[int, ModerationCounts]:
    """Open access requests and open reports per channel, in two queries."""
    requests = dict(
        AccessRequest.objects.filter(channel_id__in=channel_ids, state=AccessRequestState.OPEN)
        .values_list("channel_id")
        .annotate(n=Count("pk"))
        .values_list("channel_id", "n")
    )
    reports = dict(
        Report.objects.filter(message__channel_id__in=channel_ids, state=ReportState.OPEN)
        .values_list("message__channel_id")
        .annotate(n=Count("pk"))
        .values_list("message__channel_id", "n")
    )
    return {
        pk: ModerationCounts(open_requests=requests.get(pk, 0), open_reports=reports.get(pk, 0))
        for pk in channel_ids
    }


def latest_request_states(institution_id: int | None) -> dict[int, str]:
    """channel id → the state of the institution's most recent access request there."""
    if institution_id is None:
        return {}
    states: dict[int, str] = {}
    for channel_id, state in (
        AccessRequest.objects.filter(institution_id=institution_id)
        .order_by("created_at", "pk")
        .values_list("channel_id", "state")
    ):
        states[channel_id] = state  # later requests overwrite earlier ones
    return states
