"""Members report messages to their channel's moderators; moderators resolve reports.

Reports go to the channel's moderators only, never to platform staff: staff status
shows no channel content (SPEC §1), and a report quotes a message. Filing and
resolving are audited; the audit event names the message, never its text.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.chain import record
from channels_app.messages.services import message_delete
from channels_app.models import Report, ReportState
from exchange.kernel.errors import BadRequest, Conflict, NotFound
from permissions.access import channel_access, message_by_id
from permissions.models import User

MAX_TEXT = 1000


def _clean(text: str, *, field: str, required: bool) -> str:
    text = text.strip()
    if required and not text:
        raise BadRequest(f"{field} must not be empty.", field=field)
    if len(text) > MAX_TEXT:
        raise BadRequest(f"{field} is at most {MAX_TEXT} characters.", field=field)
    return text


def report_file(*, actor: User, message_id: int, reason: str) -> Report:
    """Any member who may read the message reports it to the channel's moderators."""
    message, _ = message_by_id(actor, message_id)
    if message.deleted_at is not None:
        raise Conflict("This message was already deleted.")
    reason = _clean(reason, field="reason", required=True)
    try:
        with transaction.atomic():
            report = Report.objects.create(message=message, reporter=actor, reason=reason)
            record(
                action="report.filed",
                actor=actor,
                channel=message.channel,
                target=f"message:{message.pk}",
                data={"report_id": report.pk, "seq": message.seq},
            )
    except IntegrityError:
        raise Conflict("You already reported this message.") from None
    return report


def report_resolve(
    *, actor: User, report_id: int, resolution: str = "", delete_message: bool = False
) -> Report:
    """Close a report, optionally deleting the message it points at."""
    resolution = _clean(resolution, field="resolution", required=False)
    with transaction.atomic():
        report = (
            Report.objects.select_for_update()
            .select_related("message", "message__channel")
            .filter(pk=report_id)
            .first()
        )
        channel = report.message.channel if report is not None else None
        if report is None or channel is None or not channel_access(actor, channel).can_moderate:
            raise NotFound("No such report.")
        if report.state != ReportState.OPEN:
            raise Conflict("This report is already resolved.")
        if delete_message:
            message_delete(actor=actor, message_id=report.message_id)
        report.state = ReportState.RESOLVED
        report.resolved_by = actor
        report.resolved_at = timezone.now()
        report.resolution = resolution
        report.save(update_fields=["state", "resolved_by", "resolved_at", "resolution"])
        record(
            action="report.resolved",
            actor=actor,
            channel=channel,
            target=f"message:{report.message_id}",
            data={"report_id": report.pk, "message_deleted": delete_message},
        )
    return report
