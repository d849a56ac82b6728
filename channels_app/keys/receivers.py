"""The keys' answer to membership's news: the channel key retired, the epoch is stale.

Connected in ChannelsAppConfig.ready. Runs inside the transaction that took the
access, so the stale epoch and its audit event commit or roll back with it.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from channels_app.keys.services import epoch_mark_stale
from permissions.membership.signals import channel_key_retired


@receiver(channel_key_retired, dispatch_uid="channels_app.keys.retire_channel_key")
def retire_channel_key(sender: Any, *, channel: Any, actor: Any, reason: str, **_: Any) -> None:
    epoch_mark_stale(channel=channel, actor=actor, reason=reason)
