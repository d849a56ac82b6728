"""`share-pending`: deliver the epoch key shares members wait for, once or as a service.

With `--watch` one socket subscribes to every channel the user is a member of and delivers
on each `shares.pending` frame (SPEC §4); it also delivers on (re)connecting, since frames
sent while it was away are lost, and looks for newly admitted channels every minute.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from channels_app.e2ee import X25519Identity
from exchange_client.client import Client
from exchange_client.errors import ExchangeError
from exchange_client.keys import EpochKeys

RELIST_SECONDS = 60.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0

Report = Callable[[str, int], None]


def member_channels(client: Client) -> list[str]:
    return [str(c["slug"]) for c in client.channels() if c.get("is_member")]


def deliver(client: Client, identity: X25519Identity, channel: str, report: Report) -> int:
    delivered = EpochKeys(client, channel, identity).deliver_pending()
    report(channel, delivered)
    return delivered


async def watch(
    client: Client, identity: X25519Identity, channel: str | None, report: Report
) -> None:
    """Deliver forever; returns only by raising ExchangeError (the token stopped working)."""
    delay = FIRST_BACKOFF
    while True:
        try:
            await _session(client, identity, channel, report)
            delay = FIRST_BACKOFF
        except (OSError, ConnectionClosed, TimeoutError, InvalidURI, asyncio.IncompleteReadError):
            pass
        except InvalidStatus as error:
            if error.response.status_code in (401, 403):
                raise ExchangeError("unauthenticated", "the server refused the socket") from None
        except ExchangeError as error:
            if error.code != "network":
                raise
        await asyncio.sleep(delay)
        delay = min(MAX_BACKOFF, delay * 2)


async def _session(
    client: Client, identity: X25519Identity, channel: str | None, report: Report
) -> None:
    async with client.socket() as ws:
        subscribed: set[str] = set()

        async def subscribe_new() -> None:
            wanted = [channel] if channel else member_channels(client)
            for slug in wanted:
                if slug in subscribed:
                    continue
                newest = client.messages(slug, limit=1)
                frame: dict[str, object] = {"type": "subscribe", "channel": slug}
                if newest:
                    frame["after"] = int(newest[-1]["id"])
                await ws.send(json.dumps(frame))
                subscribed.add(slug)
                deliver(client, identity, slug, report)

        await subscribe_new()
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=RELIST_SECONDS)
            except TimeoutError:
                await subscribe_new()
                continue
            data = json.loads(raw)
            kind = data.get("type")
            if kind == "shares.pending" and data.get("channel") in subscribed:
                deliver(client, identity, str(data["channel"]), report)
            elif kind in ("channel.revoked", "error") and data.get("channel") in subscribed:
                subscribed.discard(str(data["channel"]))
