"""Group names and after-commit sends on the channel layer.

Group names are built from server-side primary keys only, never from client input.
State changes reach sockets only through `send_on_commit`: a rolled-back change is
never announced, and an announced one is always in the database.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def channel_group(channel_id: int) -> str:
    return f"channel.{channel_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def send_now(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send `event` to `group` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(group, event), robust=True)
