"""A plain ``websockets`` broadcast server: the "ceiling" that ``ws_fanout`` compares with.

Why it exists: it is about the cheapest WebSocket fan-out one can write in asyncio Python -
no ASGI, no Twisted, no consumer objects; one encoded frame handed to every socket with
``websockets.broadcast``. Whatever Exchange reaches, this shows what the language and the
machine allow for the same client load.

Same wire behaviour as ``bare_consumer``: clients connect to ``/<room>``, get one
``{"type": "subscribed"}`` frame once registered, and every text frame any socket of the
room sends reaches every socket of the room verbatim, the sender included.

With ``--redis-url`` (the two-process topology) a received frame goes through Redis
pub/sub instead and each process broadcasts what Redis hands it to its local sockets - the
same hop the Channels Redis pub/sub layer makes, so the topologies stay comparable.

Compression is off on purpose: daphne does not negotiate permessage-deflate either.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections import defaultdict
from contextlib import suppress

from redis import asyncio as aioredis
from redis.asyncio.client import PubSub
from websockets.asyncio.server import ServerConnection, broadcast, serve

SUBSCRIBED = '{"type": "subscribed"}'
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Rooms:
    """Local sockets by room, and the optional Redis relay between processes."""

    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self.members: defaultdict[str, set[ServerConnection]] = defaultdict(set)
        self.redis_url = redis_url
        self.prefix = prefix
        self._redis: aioredis.Redis | None = None

    async def start_relay(self) -> asyncio.Task[None] | None:
        """Subscribe to every room of this run on Redis; return the reader task."""
        if not self.redis_url:
            return None
        client = aioredis.Redis.from_url(self.redis_url, max_connections=1000)
        self._redis = client
        pubsub = client.pubsub()
        await pubsub.psubscribe(self.prefix + "*")
        return asyncio.create_task(self._relay(pubsub))

    async def _relay(self, pubsub: PubSub) -> None:
        cut = len(self.prefix)
        async for item in pubsub.listen():
            if item["type"] != "pmessage":
                continue
            channel = item["channel"]
            room = (channel.decode() if isinstance(channel, bytes) else channel)[cut:]
            local = self.members.get(room)
            if local:
                broadcast(local, item["data"], text=True)

    async def fan_out(self, room: str, text: str | bytes) -> None:
        if self._redis is None:
            broadcast(self.members[room], text)
        else:
            await self._redis.publish(self.prefix + room, text)

    async def handler(self, ws: ServerConnection) -> None:
        room = ws.request.path.strip("/") if ws.request else ""
        members = self.members[room]
        members.add(ws)
        try:
            await ws.send(SUBSCRIBED)
            async for frame in ws:
                await self.fan_out(room, frame)
        finally:
            members.discard(ws)
            if not members:
                self.members.pop(room, None)


async def serve_forever(port: int, redis_url: str | None, prefix: str) -> None:
    """Serve until SIGTERM or SIGINT."""
    rooms = Rooms(redis_url, prefix)
    relay = await rooms.start_relay()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    async with serve(
        rooms.handler,
        "127.0.0.1",
        port,
        compression=None,
        max_size=2**20,
        ping_interval=None,
    ):
        print(
            f"plain_ws_server: listening on 127.0.0.1:{port} relay={bool(redis_url)}",
            file=sys.stderr,
            flush=True,
        )
        with suppress(asyncio.CancelledError):
            await stop
    if relay is not None:
        relay.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default=None, help="relay through Redis pub/sub")
    parser.add_argument("--prefix", default="benchplain:", help="Redis channel prefix")
    args = parser.parse_args(argv)
    if args.redis_url and not any(h in args.redis_url for h in LOOPBACK):
        parser.error("only a loopback Redis is allowed")
    asyncio.run(serve_forever(args.port, args.redis_url, args.prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
