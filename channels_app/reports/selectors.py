"""Reads of reports on messages (SPEC §2 "Report"), for the channel's moderators."""

from __future__ import annotations

from django.db.models import QuerySet

from channels_app.models import Channel, Report, ReportState
from exchange.kernel.errors import BadRequest
from permissions.access import Need, channel_access, require
from permissions.models import User

# What a report's answer shows: the message, its author and institution, who reported
# and who resolved, fetched with the report.
_RELATED = (
    "message",
    "message__author",
    "message__author__institution",
    "message__channel",
    "reporter",
    "resolved_by",
)


def report_list(*, actor: User, channel: Channel, state: str | None = None) -> QuerySet[Report]:
    """The channel's reports, `state` ones only if given; for its moderators only
    (Forbidden otherwise, BadRequest for an unknown state)."""
    require(channel_access(actor, channel), Need.MODERATE)
    reports = Report.objects.filter(message__channel=channel).select_related(*_RELATED)
    if state is not None:
        if state not in ReportState.values:
            raise BadRequest("state is open or resolved.", field="state")
        reports = reports.filter(state=state)
    return reports


def report_exists(*, actor: User, channel: Channel, report_id: int) -> bool:
    """Whether report `report_id` is on one of the channel's messages; moderators only."""
    return report_list(actor=actor, channel=channel).filter(pk=report_id).exists()


def report_get(*, report_id: int) -> Report:
    """Report `report_id` with what its answer shows, for the route that just filed or
    resolved it (access was checked by that service)."""
    return Report.objects.select_related(*_RELATED).get(pk=report_id)
