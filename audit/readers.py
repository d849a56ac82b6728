"""Who reads the audit log (SPEC §1, §3): platform admins all of it, moderators the
events of the channels they moderate, nobody else. The API and the audit page ask here."""

from __future__ import annotations

from exchange.kernel.errors import Forbidden
from permissions.access import in_good_standing, moderated_channel_ids
from permissions.models import User


def readable_channel_ids(user: User) -> list[int] | None:
    """None for a platform admin (every event), else the channels the user moderates.

    Raises Forbidden for anyone who may read none of it: also a platform admin or a
    moderator whose certification lapsed, from the moment it lapses (the daily sweep
    deactivates them later), as every guard refuses them.
    """
    if in_good_standing(user) and user.is_staff:
        return None
    channels = moderated_channel_ids(user)
    if not channels:
        raise Forbidden("Only platform admins and moderators read the audit log.")
    return channels


def may_read_audit(user: User) -> bool:
    try:
        readable_channel_ids(user)
    except Forbidden:
        return False
    return True
