"""When a user is due for recertification, and when they lapse (docs/moderation.md).

A focal point confirms every RECERTIFY_DAYS that each user of their institution still
belongs there. From `due_at` on the user is shown as needing confirmation; after a further
RECERTIFY_GRACE_DAYS (`lapses_at`) they are lapsed: permissions.access refuses them as it
refuses an inactive user, and the daily `recertification_sweep` deactivates them. Focal
points, moderators and platform admins are certified like everyone else.

Only reads and arithmetic here: the settings are read at call time, so a change of period
applies to everyone at once, and no stored date needs rewriting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    from permissions.models import User


def period() -> timedelta:
    return timedelta(days=settings.RECERTIFY_DAYS)


def grace() -> timedelta:
    return timedelta(days=settings.RECERTIFY_GRACE_DAYS)


def due_at(certified_at: datetime) -> datetime:
    """From when a focal point is asked to confirm the user again."""
    return certified_at + period()


def lapses_at(certified_at: datetime) -> datetime:
    """From when an unconfirmed user loses access."""
    return certified_at + period() + grace()


def lapse_cutoff(now: datetime | None = None) -> datetime:
    """Users certified before this moment are lapsed; the guard's SQL compares with it."""
    return (now or timezone.now()) - period() - grace()


def due_cutoff(now: datetime | None = None) -> datetime:
    """Users certified before this moment are due (lapsed ones included)."""
    return (now or timezone.now()) - period()


def is_lapsed(user: User, now: datetime | None = None) -> bool:
    """Whether `user` (as loaded: the guard's SQL path reads the row afresh) is past
    their grace period."""
    return user.certified_at < lapse_cutoff(now)


def is_due(user: User, now: datetime | None = None) -> bool:
    return user.certified_at < due_cutoff(now)
