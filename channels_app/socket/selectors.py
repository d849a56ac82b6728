"""Reads the socket needs beyond the domains' own: re-checking its subscriptions.

The consumer calls these through `database_sync_to_async`; like every other reader they
ask permissions.access and decide nothing themselves.
"""

from __future__ import annotations

from channels_app.models import Channel
from permissions.access import ChannelAccess, channel_access
from permissions.people.selectors import user_get_by_id


def channel_access_recheck(
    *, user_id: int, channel_ids: list[int]
) -> tuple[list[int], dict[int, ChannelAccess]]:
    """Split `channel_ids` into those the user lost read access to and those they kept
    (with their access now), reading the user and the channels afresh.

    A user deleted since the socket opened loses them all. Two queries plus the access
    check per channel: an `access.changed` event names one channel, or the socket's few.
    """
    user = user_get_by_id(user_id=user_id)
    lost: list[int] = []
    kept: dict[int, ChannelAccess] = {}
    for channel in Channel.objects.filter(pk__in=channel_ids):
        access = channel_access(user, channel) if user is not None else None
        if access is None or not access.can_read:
            lost.append(channel.pk)
        else:
            kept[channel.pk] = access
    return lost, kept
