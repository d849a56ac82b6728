"""Reads of a channel's key epochs (SPEC §5): the current one and the whole list.

"The current epoch" is asked by the API, the moderation page, uploads and key rotation;
it has this one definition. Callers have checked access to the channel.
"""

from __future__ import annotations

from channels_app.models import Channel, Epoch


def current_epoch(channel: Channel) -> Epoch | None:
    """The channel's newest epoch (highest number), stale or not; None before the first."""
    return Epoch.objects.filter(channel=channel).order_by("-number").first()


def epoch_list(*, channel: Channel) -> list[Epoch]:
    """Every epoch of the channel, oldest first (Epoch.Meta.ordering)."""
    return list(Epoch.objects.filter(channel=channel))
