"""Where this installation's Redis is, for everything that talks to it.

Three parts of a process use Redis: the channel layer (channels_redis, configured in
exchange.settings), the rate limits and socket slots (exchange.kernel.ratelimit) and
/healthz. They must agree on one Redis, and they must all follow it when it fails over.
This module is where each of them asks. There are two ways to name it:

- one server, `REDIS_URL` (`redis://host:6379/0`);
- a primary watched by Redis Sentinel, `REDIS_SENTINELS` (`host:26379,host:26379,…`)
  with `REDIS_SENTINEL_MASTER` (the name the sentinels monitor, default `exchange`) and
  `REDIS_SENTINEL_DB` (default 0). Each client asks the sentinels for the current
  primary when it connects, and again after a connection to it fails. After a failover
  the layer, the limits and the health check therefore reach the new primary with no
  restart. Redis Cluster is not supported (channels_redis does not support it).

Neither set: the embedded mode, with no Redis at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from redis import asyncio as aioredis
from redis.asyncio.sentinel import Sentinel


@dataclass(frozen=True)
class RedisPlace:
    url: str = ""
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "exchange"
    db: int = 0

    @property
    def configured(self) -> bool:
        return bool(self.url or self.sentinels)

    def layer_host(self, **options: Any) -> dict[str, Any]:
        """One entry of channels_redis' `hosts`, with pool `options` (max_connections…)."""
        if self.sentinels:
            return {
                "sentinels": list(self.sentinels),
                "master_name": self.master,
                "db": self.db,
                **options,
            }
        return {"address": self.url, **options}

    def limits_uri(self, *, asynchronous: bool) -> str:
        """The `limits` library's storage URI for the rate limits."""
        if self.sentinels:
            hosts = ",".join(
                f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                for host, port in self.sentinels
            )
            uri = f"redis+sentinel://{hosts}/{self.master}"
        else:
            uri = self.url
        return "async+" + uri if asynchronous else uri

    def limits_options(self) -> dict[str, Any]:
        return {"db": self.db} if self.sentinels else {}

    def async_client(self, **options: Any) -> aioredis.Redis:
        """A client of the current primary, for this event loop."""
        if self.sentinels:
            sentinel = Sentinel(list(self.sentinels), socket_timeout=options.get("socket_timeout"))
            client: aioredis.Redis = sentinel.master_for(self.master, db=self.db, **options)
            return client
        return aioredis.from_url(self.url, **options)


def _sentinel_hosts(raw: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for entry in raw.split(","):
        host, _, port = entry.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(
                f"REDIS_SENTINELS is host:port,host:port,…; {entry.strip()!r} is not host:port"
            )
        hosts.append((host.strip("[]"), int(port)))
    return tuple(hosts)


def redis_place_from(*, url: str, sentinels: str, master: str, db: int) -> RedisPlace:
    """The Redis the environment names (exchange.settings reads the variables)."""
    if url and sentinels:
        raise ImproperlyConfigured("Set REDIS_URL or REDIS_SENTINELS, not both.")
    if sentinels:
        return RedisPlace(sentinels=_sentinel_hosts(sentinels), master=master or "exchange", db=db)
    return RedisPlace(url=url)


def redis_place() -> RedisPlace:
    """This process's Redis (settings.REDIS), read at call time so tests may change it."""
    from django.conf import settings

    place = getattr(settings, "REDIS", None)
    return place if isinstance(place, RedisPlace) else RedisPlace()
