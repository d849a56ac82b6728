"""One channel-layer reader per process for a channel's broadcasts.

Channels' way is one layer membership per socket: a group_send to a channel with 200
subscribers in this process makes 200 copies of the event, 200 queue hops and 200
consumer dispatches. Here the process joins each channel's group once, with one layer
channel of its own, and hands each broadcast to the subscribed sockets of this process
by a direct call. The layer (in-memory, or Redis between processes) still carries every
event between processes; only the last hop, inside the process, is cheaper.

Only `broadcast.frame` events take the direct call, which does no I/O but the socket
write; the event is parsed once per process, not once per socket. Any other event sent
to a channel's group (a new epoch, members changing) goes on to each subscriber's own
layer channel, to be handled in the consumer's own order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from channels.layers import get_channel_layer

from exchange.kernel.events import BroadcastFrame
from exchange.kernel.realtime import channel_group

logger = logging.getLogger(__name__)


class Subscriber(Protocol):
    channel_name: str

    async def broadcast_frame(self, event: BroadcastFrame) -> None: ...


class LocalFanout:
    def __init__(self) -> None:
        self.subscribers: dict[int, set[Subscriber]] = {}
        self._layer = get_channel_layer()
        self._reader_channel: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._membership = asyncio.Lock()  # group_add and group_discard in their order

    async def subscribe(self, channel_id: int, subscriber: Subscriber) -> None:
        async with self._membership:
            if self._reader_channel is None:
                self._reader_channel = await self._layer.new_channel("fanout.")
                self._reader = asyncio.get_running_loop().create_task(self._read())
            members = self.subscribers.setdefault(channel_id, set())
            if not members:
                await self._layer.group_add(channel_group(channel_id), self._reader_channel)
            members.add(subscriber)

    async def unsubscribe(self, channel_id: int, subscriber: Subscriber) -> None:
        async with self._membership:
            members = self.subscribers.get(channel_id)
            if members is None:
                return
            members.discard(subscriber)
            if not members and self._reader_channel is not None:
                del self.subscribers[channel_id]
                await self._layer.group_discard(channel_group(channel_id), self._reader_channel)

    async def _read(self) -> None:
        assert self._reader_channel is not None  # noqa: S101  (set before the task starts)
        while True:
            event = await self._layer.receive(self._reader_channel)
            members = list(self.subscribers.get(event.get("channel_id"), ()))
            frame = None
            if event.get("type") == BroadcastFrame.type:
                frame = BroadcastFrame(event["channel_id"], event["message_id"], event["text"])
            for subscriber in members:
                try:
                    if frame is not None:
                        await subscriber.broadcast_frame(frame)
                    else:
                        await self._layer.send(subscriber.channel_name, event)
                except Exception:
                    # One socket closing mid-write must not stop the others' deliveries.
                    logger.debug("Delivery to %s failed", subscriber.channel_name, exc_info=True)


_fanouts: dict[asyncio.AbstractEventLoop, LocalFanout] = {}


def local_fanout() -> LocalFanout:
    """The fan-out of the running event loop (one per server process; one per test loop)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        for stale in [other for other in _fanouts if other.is_closed()]:
            del _fanouts[stale]
        fanout = _fanouts[loop] = LocalFanout()
    return fanout
