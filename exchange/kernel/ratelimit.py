"""Per-user rate limits and the per-user cap on open sockets: the one module that owns them.

The HTTP API (through `ApiWriteThrottle` and `UploadThrottle`, django-ninja throttles) and
the WebSocket consumer (through `frame_allowed` and `socket_slot_*`) ask here; neither
keeps a counter of its own.

Counters live in the `limits` library's storage: in process memory in the embedded mode,
in Redis (REDIS_URL) in production, so that every server process counts against the same
budget. The strategy is the sliding window counter: no burst of twice the limit at a
window's edge, and two Redis keys per limit whatever the traffic.

Open sockets are counted per user in a Redis sorted set whose members are the sockets'
channel names, scored by when each entry expires. A live socket pushes its expiry forward
every third of SOCKET_SLOT_TTL; a process that crashed stops refreshing and its entries
fall out after SOCKET_SLOT_TTL seconds, so a crash never locks a user out for good. The
check and the insertion are one Lua script (atomic), timed by Redis's own clock so that
servers with skewed clocks agree.

When Redis does not answer, limits fail open (logged): the channel layer is down then too,
and refusing every frame would turn a Redis outage into a total one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncLimiter
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from ninja.throttling import BaseThrottle
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from exchange.kernel.redis import redis_place

logger = logging.getLogger(__name__)

WS_FRAMES = "ws-frames"
API_WRITES = "api-writes"
UPLOADS = "uploads"
_SETTING = {WS_FRAMES: "RATE_WS_FRAMES", API_WRITES: "RATE_API_WRITES", UPLOADS: "RATE_UPLOADS"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LEASE_FRACTION = 10
LEASE_SECONDS = 1.0


@dataclass(frozen=True)
class Refusal:
    """Why a hit was refused: the whole seconds to wait before the next try."""

    retry_after: int


def limits_for(kind: str) -> tuple[RateLimitItem, ...]:
    return _parsed(getattr(settings, _SETTING[kind]))


@cache
def _parsed(rates: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(rates))


def _retry_after(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))


# --- the storages ------------------------------------------------------------------------


class _Storages:
    """The process's storages, made on first use; the async ones per event loop, because
    an asyncio Redis client belongs to the loop that opened its connections."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: SlidingWindowCounterRateLimiter | None = None
        self._async: dict[int, tuple[asyncio.AbstractEventLoop, AsyncLimiter, Any]] = {}

    def sync_limiter(self) -> SlidingWindowCounterRateLimiter:
        with self._lock:
            if self._sync is None:
                place = redis_place()
                storage: Storage = (
                    cast(
                        Storage,
                        storage_from_string(
                            place.limits_uri(asynchronous=False),
                            key_prefix=settings.RATE_LIMIT_PREFIX,
                            **place.limits_options(),
                        ),
                    )
                    if place.configured
                    else MemoryStorage()
                )
                self._sync = SlidingWindowCounterRateLimiter(storage)
            return self._sync

    def for_loop(self) -> tuple[AsyncLimiter, aioredis.Redis | None]:
        """The async limiter and the Redis client (None in the embedded mode) of this loop."""
        loop = asyncio.get_running_loop()
        entry = self._async.get(id(loop))
        if entry is None or entry[0] is not loop:
            place = redis_place()
            if place.configured:
                storage = cast(
                    AsyncStorage,
                    storage_from_string(
                        place.limits_uri(asynchronous=True),
                        implementation="redispy",
                        key_prefix=settings.RATE_LIMIT_PREFIX,
                        **place.limits_options(),
                    ),
                )
                client: Any = place.async_client()
            else:
                storage, client = AsyncMemoryStorage(), None
            self._async = {  # loops that closed are forgotten
                key: value for key, value in self._async.items() if not value[0].is_closed()
            }
            entry = self._async[id(loop)] = (loop, AsyncLimiter(storage), client)
        return entry[1], entry[2]


_storages = _Storages()
_local_sockets: dict[int, set[str]] = {}


def reset() -> None:
    """Forget every counter, lease and socket slot of this process (tests start from nothing)."""
    global _storages
    _storages = _Storages()
    _local_sockets.clear()
    _leases.clear()


# --- rate limits -------------------------------------------------------------------------


def hit(kind: str, user_id: int) -> Refusal | None:
    """Count one action of `user_id` against every window of `kind` (sync callers)."""
    limiter = _storages.sync_limiter()
    try:
        for item in limits_for(kind):
            if not limiter.hit(item, kind, str(user_id)):
                stats = limiter.get_window_stats(item, kind, str(user_id))
                return Refusal(_retry_after(stats.reset_time))
    except (RedisError, OSError):
        logger.warning("rate limit storage unreachable; %s of user %s let through", kind, user_id)
    return None


@dataclass
class _Lease:
    """Actions a process took from the shared budget ahead of time, to spend locally."""

    left: int
    until: float  # time.monotonic() after which what is left is not spent


_leases: dict[tuple[str, int], _Lease] = {}


def _lease_size(items: tuple[RateLimitItem, ...]) -> int:
    # A tenth of the smallest window's allowance: a user at 100 frames a second costs
    # Redis ten round trips a second instead of two hundred. Small limits lease nothing.
    return max(1, min(item.amount for item in items) // LEASE_FRACTION)


async def ahit(kind: str, user_id: int) -> Refusal | None:
    """Count one action of `user_id` against every window of `kind` (async callers).

    A frame is counted from a lease when one is held: the process takes LEASE actions
    from every window at once and spends them for at most LEASE_SECONDS. Leased actions
    count whether spent or not, so the limit only gets stricter (by less than a lease
    per process), never looser; near the limit, a lease is refused and the action is
    counted alone.
    """
    key = (kind, user_id)
    lease = _leases.get(key)
    now = time.monotonic()
    if lease is not None and lease.left > 0 and now < lease.until:
        lease.left -= 1
        return None
    items = limits_for(kind)
    limiter, _ = _storages.for_loop()
    size = _lease_size(items)
    refusal: Refusal | None = None
    try:
        for cost in (size, 1) if size > 1 else (1,):
            refusal = await _hit_every_window(limiter, items, kind, user_id, cost)
            if refusal is None:
                _leases[key] = _Lease(left=cost - 1, until=now + LEASE_SECONDS)
                return None
    except (RedisError, OSError):
        logger.warning("rate limit storage unreachable; %s of user %s let through", kind, user_id)
        return None
    _leases.pop(key, None)
    return refusal


async def _hit_every_window(
    limiter: AsyncLimiter, items: tuple[RateLimitItem, ...], kind: str, user_id: int, cost: int
) -> Refusal | None:
    for item in items:
        if not await limiter.hit(item, kind, str(user_id), cost=cost):
            stats = await limiter.get_window_stats(item, kind, str(user_id))
            return Refusal(_retry_after(stats.reset_time))
    return None


async def frame_allowed(user_id: int) -> Refusal | None:
    """One WebSocket frame of `user_id`: None when allowed, else how long to wait."""
    return await ahit(WS_FRAMES, user_id)


# --- the HTTP API's throttles --------------------------------------------------------------


class _UserThrottle(BaseThrottle):
    """A ninja throttle on the authenticated user's writes (GET and HEAD pass untouched).

    ninja asks `allow_request(request)` then, on a refusal, `wait()` with no request, in
    the same thread with nothing in between: the refusal waits in a thread-local."""

    kind = API_WRITES

    def __init__(self) -> None:
        self._refusal = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        user = getattr(request, "auth", None)
        if request.method in _SAFE_METHODS or getattr(user, "pk", None) is None:
            return True
        refusal = hit(self.kind, user.pk)  # type: ignore[union-attr]
        self._refusal.value = refusal
        return refusal is None

    def wait(self) -> float | None:
        refusal: Refusal | None = getattr(self._refusal, "value", None)
        return float(refusal.retry_after) if refusal is not None else None


class ApiWriteThrottle(_UserThrottle):
    """POST, PUT, PATCH and DELETE under /api/v1/: EXCHANGE_RATE_API_WRITES per user."""

    kind = API_WRITES


class UploadThrottle(_UserThrottle):
    """Attachment uploads: EXCHANGE_RATE_UPLOADS per user, checked before the body is read."""

    kind = UPLOADS


# --- the cap on open sockets -----------------------------------------------------------------

# KEYS[1]: the user's sorted set. ARGV: member, cap, ttl. Returns 1 if the socket may open.
_TAKE_SLOT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""
_REFRESH_SLOT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


def _slot_key(user_id: int) -> str:
    return f"{settings.RATE_LIMIT_PREFIX}:sockets:{user_id}"


async def socket_slot_take(user_id: int, socket_name: str) -> bool:
    """Reserve one of the user's MAX_SOCKETS_PER_USER sockets; False when all are taken."""
    cap = settings.MAX_SOCKETS_PER_USER
    _, client = _storages.for_loop()
    if client is None:
        sockets = _local_sockets.setdefault(user_id, set())
        if socket_name not in sockets and len(sockets) >= cap:
            return False
        sockets.add(socket_name)
        return True
    try:
        taken = await client.eval(
            _TAKE_SLOT, 1, _slot_key(user_id), socket_name, cap, settings.SOCKET_SLOT_TTL
        )
    except (RedisError, OSError):
        logger.warning("socket slots unreachable; a socket of user %s let through", user_id)
        return True
    return bool(taken)


async def socket_slot_keep(user_id: int, socket_name: str) -> None:
    """Run for as long as the socket lives (production only): keep its entry fresh."""
    _, client = _storages.for_loop()
    if client is None:
        return
    ttl = settings.SOCKET_SLOT_TTL
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            await client.eval(_REFRESH_SLOT, 1, _slot_key(user_id), socket_name, ttl)
        except (RedisError, OSError):
            logger.warning("socket slots unreachable; could not refresh user %s", user_id)


async def socket_slot_release(user_id: int, socket_name: str) -> None:
    _, client = _storages.for_loop()
    if client is None:
        sockets = _local_sockets.get(user_id)
        if sockets is not None:
            sockets.discard(socket_name)
            if not sockets:
                del _local_sockets[user_id]
        return
    with contextlib.suppress(RedisError, OSError):
        await client.zrem(_slot_key(user_id), socket_name)


def keep_slot_task(user_id: int, socket_name: str) -> asyncio.Task[None] | None:
    """The refresher of a socket's slot, or None where slots need no refreshing."""
    _, client = _storages.for_loop()
    if client is None:
        return None
    return asyncio.get_running_loop().create_task(socket_slot_keep(user_id, socket_name))
