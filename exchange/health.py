"""GET /healthz (SPEC §3): whether this process can reach what it serves with.

A load balancer, nginx's checks and an operator's monitoring ask each process in turn;
each part answers "ok" or one word saying what is wrong, and the status is 200 only when
every part is ok, 503 otherwise, so a worker that lost its database or Redis is taken out
of rotation rather than answering errors. No authentication and nothing about the
content: only the three words.

- `database`: a `SELECT 1` on the default connection.
- `redis`: a PING to the current primary (exchange.kernel.redis: REDIS_URL, or the one
  the sentinels name); the rate limits and socket slots use it directly.
  The embedded mode has no Redis: "not_used", which counts as healthy.
- `layer`: a message sent to this process's own fresh channel on the channel layer and
  received back, the path every broadcast takes.

Each check has CHECK_SECONDS; a check that hangs answers "timeout".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from exchange.kernel.redis import redis_place

logger = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
OK = "ok"
NOT_USED = "not_used"
HEALTHY = {OK, NOT_USED}


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close_if_unusable_or_obsolete()
    return OK


async def _redis() -> str:
    place = redis_place()
    if not place.configured:
        return NOT_USED
    client = place.async_client(socket_timeout=CHECK_SECONDS)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return OK


async def _layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "missing"
    name = await layer.new_channel("health.")
    await layer.send(name, {"type": "health.check"})
    received = await layer.receive(name)
    return OK if received.get("type") == "health.check" else "wrong_message"


async def _checked(name: str, check: Callable[[], Awaitable[str]]) -> str:
    """The check's word; "timeout" or "unavailable" when it hangs or fails (logged: the
    answer carries no detail, the log does)."""
    try:
        return await asyncio.wait_for(check(), CHECK_SECONDS)
    except TimeoutError:
        logger.warning("healthz: %s timed out", name)
        return "timeout"
    except Exception:
        logger.warning("healthz: %s failed", name, exc_info=True)
        return "unavailable"


@require_safe
async def healthz(request: HttpRequest) -> HttpResponse:
    database, redis, layer = await asyncio.gather(
        _checked("database", sync_to_async(_database, thread_sensitive=False)),
        _checked("redis", _redis),
        _checked("layer", _layer),
    )
    parts = {"database": database, "redis": redis, "layer": layer}
    status = 200 if set(parts.values()) <= HEALTHY else 503
    response = JsonResponse(parts, status=status)
    response["Cache-Control"] = "no-store"
    return response
