"""The audit page (/audit/): the chain's verdict, then its events, newest first.

Platform admins see every event, moderators those of their channels (audit.readers,
the same rule as GET /api/v1/audit). Events name who did what to whom and never hold
message text or key material, so the page shows them as they are.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from audit.chain import verify
from audit.readers import readable_channel_ids
from audit.selectors import audit_channel_choices, audit_event_page
from exchange.kernel.errors import Forbidden
from permissions.people.selectors import user_signed_in


@login_required
def audit_page(request: HttpRequest) -> HttpResponse:
    try:
        readable = readable_channel_ids(user_signed_in(request=request))
    except Forbidden:
        reason = _("Only platform admins and the channels' moderators may read the audit log.")
        return render(request, "forbidden.html", {"reason": reason}, status=403)
    choices = audit_channel_choices(readable=readable)
    error = None
    chosen = request.GET.get("channel", "")
    channel_id = None
    if chosen:
        channel = next((c for c in choices if c.slug == chosen), None)
        if channel is None:
            error = _("No such channel among those whose audit log you may read.")
            chosen = ""
        else:
            channel_id = channel.pk
    page = audit_event_page(
        readable=readable, channel_id=channel_id, page_number=request.GET.get("page")
    )
    slugs: dict[int | None, str] = {c.pk: c.slug for c in choices}
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
