"""Reports on messages (SPEC §2 "Report"): members file them, moderators resolve them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StrictBool, StrictStr

from channels_app.messages.selectors import channel_get
from channels_app.reports import selectors as report_selectors
from channels_app.reports import services as reports
from exchange.kernel.errors import NotFound
from exchange.kernel.schema import Strict
from permissions.people.api import request_user

if TYPE_CHECKING:
    from channels_app.models import Report

router = Router(tags=["moderation"])


class ReportIn(Strict):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class ResolveIn(Strict):
    resolution: StrictStr = Field(default="", max_length=1000)
    delete_message: StrictBool = False


class ReportOut(Schema):
    id: int
    channel: str
    message: int
    message_seq: int
    message_author: str
    reporter: str
    reason: str
    state: str
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str
    created_at: datetime


def _report_out(report: Report, channel_slug: str) -> ReportOut:
    return ReportOut(
        id=report.pk,
        channel=channel_slug,
        message=report.message_id,
        message_seq=report.message.seq,
        message_author=report.message.author.username,
        reporter=report.reporter.username,
        reason=report.reason,
        state=report.state,
        resolved_by=report.resolved_by.username if report.resolved_by else None,
        resolved_at=report.resolved_at,
        resolution=report.resolution,
        created_at=report.created_at,
    )


@router.post(
    "/messages/{message_id}/reports",
    response={201: ReportOut},
    summary="Report a message to the channel's moderators",
)
def report_create(request: HttpRequest, message_id: int, payload: ReportIn) -> Status[ReportOut]:
    report = reports.report_file(
        actor=request_user(request), message_id=message_id, reason=payload.reason
    )
    report = report_selectors.report_get(report_id=report.pk)
    return Status(201, _report_out(report, report.message.channel.slug))


@router.get(
    "/channels/{slug}/reports",
    response=list[ReportOut],
    summary="Reports on a channel's messages (moderators)",
)
def report_list(
    request: HttpRequest, slug: str, state: Literal["open", "resolved"] | None = None
) -> list[ReportOut]:
    channel = channel_get(slug=slug)
    if channel is None:
        raise NotFound("No such channel.")
    found = report_selectors.report_list(actor=request_user(request), channel=channel, state=state)
    return [_report_out(r, slug) for r in found]


@router.post(
    "/reports/{report_id}/resolve",
    response=ReportOut,
    summary="Resolve a report, optionally deleting the message (moderators)",
)
def report_resolve(request: HttpRequest, report_id: int, payload: ResolveIn) -> ReportOut:
    report = reports.report_resolve(
        actor=request_user(request),
        report_id=report_id,
        resolution=payload.resolution,
        delete_message=payload.delete_message,
    )
    report = report_selectors.report_get(report_id=report.pk)
    return _report_out(report, report.message.channel.slug)
