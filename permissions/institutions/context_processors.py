"""The recertification reminders every page shows (templates/base.html)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Min
from django.http import HttpRequest

from permissions.institutions import certification
from permissions.models import User


def certification_reminders(request: HttpRequest) -> dict[str, Any]:
    """For a focal point: how many active users of their institution are due, and the
    first date one of them lapses. For anyone due: the date their own access lapses."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_active:
        return {}
    reminders: dict[str, Any] = {}
    if user.is_focal_point and user.institution_id is not None:
        due = User.objects.filter(
            institution_id=user.institution_id,
            is_active=True,
            certified_at__lt=certification.due_cutoff(),
        ).aggregate(count=Count("pk"), oldest=Min("certified_at"))
        if due["count"]:
            reminders["institution_due"] = {
                "count": due["count"],
                "by": certification.lapses_at(due["oldest"]),
            }
    if certification.is_due(user):
        reminders["own_due_by"] = certification.lapses_at(user.certified_at)
        reminders["own_lapsed"] = certification.is_lapsed(user)
    return {"certification_reminders": reminders}
