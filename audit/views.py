"""The audit page (/audit/): the chain's verdict, then its events, newest first.

Platform admins see every event, moderators those of their channels (audit.readers,
the same rule as GET /api/v1/audit). Events name who did what to whom and never hold
message text or key material, so the page shows them as they are.
"""

from __future__ import annotations

import json

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from audit.chain import verify
from audit.models import AuditEvent
from audit.readers import readable_channel_ids
from exchange.kernel.errors import Forbidden
from permissions.models import User

PAGE_SIZE = 50


@login_required
def audit_page(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101  (login_required guarantees it)
    try:
        readable = readable_channel_ids(request.user)
    except Forbidden:
        reason = _("Only platform admins and the channels' moderators may read the audit log.")
        return render(request, "forbidden.html", {"reason": reason}, status=403)
    channel_model = apps.get_model("channels_app", "Channel")
    channels = channel_model.objects.order_by("title")
    if readable is not None:
        channels = channels.filter(pk__in=readable)
    choices = list(channels)
    events = AuditEvent.objects.order_by("-seq")
    if readable is not None:
        events = events.filter(channel_id__in=readable)
    error = None
    chosen = request.GET.get("channel", "")
    if chosen:
        channel = next((c for c in choices if c.slug == chosen), None)
        if channel is None:
            error = _("No such channel among those whose audit log you may read.")
            chosen = ""
        else:
            events = events.filter(channel_id=channel.pk)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    slugs = {c.pk: c.slug for c in choices}
    rows = [
        {
            "event": event,
            "channel": slugs.get(event.channel_id, ""),
            "data": json.dumps(event.data, sort_keys=True, ensure_ascii=False)
            if event.data
            else "",
        }
        for event in page
    ]
    return render(
        request,
        "audit.html",
        {
            "verdict": verify(),
            "page": page,
            "rows": rows,
            "channels": choices,
            "chosen": chosen,
            "error": error,
            "sees_everything": readable is None,
        },
        status=400 if error else 200,
    )
