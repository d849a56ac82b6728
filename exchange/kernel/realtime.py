"""Group names and after-commit sends on the channel layer.

Group names are built from server-side primary keys only, never from client input.
State changes reach sockets only through `send_on_commit`: a rolled-back change is
never announced, and an announced one is always in the database. What is sent is one of
the typed events of exchange.kernel.events, turned into the layer's dict here.

Inside a server process, services run on worker threads while the channel layer lives
on the event loop. A worker does not wait for the loop to deliver: it hands the event
to a per-process outbox that one task on the loop drains in order. Waiting would tie
every database write to the loop's backlog of deliveries; and a dropped or late
broadcast is never a lost message, since clients fetch any gap in `seq` (SPEC §8).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from exchange.kernel.events import LayerEvent, MembersChanged

logger = logging.getLogger(__name__)

Event = dict[str, Any]  # a layer message: LayerEvent.as_layer_message()

_loop: asyncio.AbstractEventLoop | None = None
_outbox: asyncio.Queue[tuple[str, Event]] | None = None
_drainer: asyncio.Task[None] | None = None  # held so the task is not garbage-collected


def channel_group(channel_id: int) -> str:
    return f"channel.{channel_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def token_group(token_id: int) -> str:
    return f"token.{token_id}"


def session_group(session_key: str) -> str:
    """The sockets opened with one browser session. The key itself is a credential, so
    the group is named by its hash: the channel layer (Redis) never holds a live key."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def attach_to_running_loop() -> None:
    """Called on the server's event loop (by the socket consumer) to start the outbox."""
    global _loop, _outbox, _drainer
    loop = asyncio.get_running_loop()
    if _loop is loop:
        return
    outbox: asyncio.Queue[tuple[str, Event]] = asyncio.Queue()
    _loop, _outbox = loop, outbox
    _drainer = loop.create_task(_drain(outbox))


async def _drain(outbox: asyncio.Queue[tuple[str, Event]]) -> None:
    while True:
        group, event = await outbox.get()
        layer = get_channel_layer()
        try:
            if layer is not None:
                await layer.group_send(group, event)
        except Exception:
            # The change is committed; sockets catch up from `seq` or their next check.
            logger.exception("Broadcast to %s failed", group)


def _on_other_thread_of(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is not loop
    except RuntimeError:
        return True


def send_now(group: str, event: LayerEvent) -> None:
    """Send `event` to `group` now: through the outbox from a worker thread, directly on
    the loop or where no server loop runs (a management command, a test)."""
    message = event.as_layer_message()
    loop, outbox = _loop, _outbox
    if loop is not None and outbox is not None and loop.is_running() and _on_other_thread_of(loop):
        loop.call_soon_threadsafe(outbox.put_nowait, (group, message))
        return
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def send_on_commit(group: str, event: LayerEvent) -> None:
    """Send `event` to `group` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(group, event), robust=True)


def members_changed_on_commit(channel_id: int) -> None:
    """Tell a channel's sockets, after commit, that its members or their keys changed:
    clients holding the current key then deliver the shares newcomers wait for."""
    send_on_commit(channel_group(channel_id), MembersChanged(channel_id=channel_id))
