"""A bare Channels broadcast app: the "floor" that ``ws_fanout`` compares Exchange with.

Why it exists: the full Exchange path pays for bearer-token auth, JSON parsing, permission
checks, a database commit and the serialisation of a message object. This app pays only for
what Channels itself costs - daphne, the consumer machinery and the channel layer's
``group_send`` - so the ratio full/bare says how much of the cost is ours.

To be a fair floor it must run on the same channel layer as the app. It therefore copies
``CHANNEL_LAYERS`` from ``exchange.settings`` (evaluated with the same environment:
``REDIS_URL`` unset gives the in-memory layer, set gives ``RedisPubSubChannelLayer``). Only if
that module cannot be imported does it build the same kind of layer itself, and it says so
on stderr, which ends up in the daphne log that ``ws_fanout`` keeps.

Serve with ``python -m daphne -b 127.0.0.1 -p PORT bench.bare_consumer:application``.
Clients connect to ``/ws/<room>/``; every socket of a room receives every text frame any
socket of that room sends (the sender included), verbatim.
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Any

import django
from django.conf import settings


def _channel_layers() -> tuple[dict[str, Any], str]:
    """Return the layer configuration and where it came from (for the log)."""
    if os.environ.get("BENCH_LAYER_SOURCE", "app") == "app":
        try:
            from exchange import settings as app_settings

            return copy.deepcopy(app_settings.CHANNEL_LAYERS), "exchange.settings"
        except Exception as exc:  # the app may be half-written; fall back, but say so
            print(f"bare_consumer: cannot use exchange.settings ({exc!r})", file=sys.stderr)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}, "own in-memory"
    return {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url, "max_connections": 1000}]},
        }
    }, "own RedisPubSubChannelLayer"


if not settings.configured:
    _LAYERS, _SOURCE = _channel_layers()
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-bare-consumer-not-secret",  # noqa: S106 - no sessions, no signing
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS=_LAYERS,
    )
    django.setup()
    _backend = _LAYERS.get("default", {}).get("BACKEND", "?")
    print(f"bare_consumer: CHANNEL_LAYERS from {_SOURCE}: {_backend}", file=sys.stderr, flush=True)

# Channels reads settings at import time, so these imports follow settings.configure().
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

SUBSCRIBED = '{"type": "subscribed"}'


class BareBroadcastConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # untyped base
    """Join the room's group on connect; relay every received text to the whole group.

    It sends one ``subscribed`` frame once the group membership is in place, so the
    benchmark client knows when it may start sending - the same signal the full path gives.
    """

    group: str = ""

    async def connect(self) -> None:
        self.group = "bare." + self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=SUBSCRIBED)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(
                self.group, {"type": "bare.fanout", "text": text_data}
            )

    async def bare_fanout(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [re_path(r"^ws/(?P<room>[A-Za-z0-9-]{1,60})/$", BareBroadcastConsumer.as_asgi())]
        )
    }
)
