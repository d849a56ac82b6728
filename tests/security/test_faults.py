"""Faults on the production path: real daphne processes on PostgreSQL and Redis, and a
piece of it taken away while clients talk (SPEC §8's promises under failure).

(a) Redis killed while 20 clients send: every acknowledged message is in the database and
    reaches every client once it reconnects with `after`, none twice; the servers go on
    serving once Redis is back.
(b) The database unavailable: a sender gets an `error` frame (`unavailable`), never an
    ack, and nothing is broadcast; service resumes when the database returns.
(c) A daphne worker killed (SIGKILL) mid-send: the client's retry with the same
    `client_id` against another worker leaves exactly one copy.

Each test runs its own redis-server on a free port (the shared one is never touched); (b)
works on a database of its own, made and set up with the administration commands, so
that refusing connections to it disturbs nothing else. The tests wait for frames, never
for time; a timeout is only how a missing frame fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket as net
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from channels_app.models import Message
from tests import factories
from tests.conftest import World
from tests.live import servers as live
from tests.live.servers import ROOT, LiveServer, daphne_server, free_port

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]

Frame = dict[str, Any]
TIMEOUT = 15  # seconds for one frame: generous on a loaded two-core machine


# --- a private Redis -------------------------------------------------------------------


@dataclass
class PrivateRedis:
    """A redis-server of this test's own, that it may kill and start again on one port."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            with net.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no goodbye to its clients, as when the machine goes away."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis()
    redis.start()
    try:
        yield redis
    finally:
        if redis.process is not None:
            redis.kill()


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the production path needs the PostgreSQL run of the suite (make test)")


def servers(count: int, **options: Any) -> ExitStack:
    """`count` daphne processes started side by side (each takes seconds to import Django);
    the returned stack stops them. `stack.servers` lists them."""
    stack = ExitStack()
    with ThreadPoolExecutor(count) as pool:
        starting = [
            pool.submit(stack.enter_context, daphne_server(**options)) for _ in range(count)
        ]
    stack.servers = [future.result() for future in starting]  # type: ignore[attr-defined]
    return stack


# --- a client ------------------------------------------------------------------------


@dataclass
class Client:
    """One socket and everything it received, read by a task of its own; `ack(client_id)`
    waits for the answer (an ack or an error frame) to that send."""

    name: str
    ws: ClientConnection
    channel: str = "ops"
    frames: list[Frame] = field(default_factory=list)
    answers: dict[str, asyncio.Future[Frame]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        try:
            async for text in self.ws:
                frame = json.loads(text)
                self.frames.append(frame)
                key = frame.get("client_id") or frame.get("ref")
                answer = (
                    self.answers.get(key) if frame["type"] in ("message.ack", "error") else None
                )
                if answer is not None and not answer.done():
                    answer.set_result(frame)
                self.arrived.set()
        except ConnectionClosed:
            pass

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def message(self, body: str, client_id: str | None = None) -> Frame:
        """Send a message and wait for its ack or error frame."""
        client_id = client_id or str(uuid.uuid4())
        self.answers[client_id] = asyncio.get_running_loop().create_future()
        await self.send({"type": "message.send", "channel": self.channel,
                         "client_id": client_id, "body": body})  # fmt: skip
        return await asyncio.wait_for(self.answers[client_id], TIMEOUT)

    async def wait_for(self, condition: Any) -> None:
        """Wait until `condition(frames)` holds; fail if the frames stop coming."""
        while not condition(self.frames):
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), TIMEOUT)

    def new_messages(self) -> list[Frame]:
        return [f["message"] for f in self.frames if f["type"] == "message.new"]

    def seen(self) -> dict[int, int]:
        """seq → id of every message this client has seen (acks, broadcasts, backlogs)."""
        seen: dict[int, int] = {}
        for frame in self.frames:
            messages = frame.get("messages", [])
            if frame["type"] in ("message.ack", "message.new"):
                messages = [frame["message"]]
            for message in messages:
                seen[message["seq"]] = message["id"]
        return seen

    def resume_after(self) -> int:
        """What a client sends as `after` on reconnecting: the id of the last message of the
        run 1, 2, 3… it saw without a gap (SPEC §2: a gap in seq is a missed message)."""
        seen, seq, after = self.seen(), 1, 0
        while seq in seen:
            after, seq = seen[seq], seq + 1
        return after


@asynccontextmanager
async def client(server: LiveServer, token: str, name: str, *, after: int | None = None,
                 channel: str = "ops") -> AsyncIterator[Client]:  # fmt: skip
    """A subscribed socket (with `after` when given) whose frames are being read."""
    async with connect(server.ws, additional_headers={"Authorization": f"Bearer {token}"},
                       open_timeout=TIMEOUT, max_size=2**24) as ws:  # fmt: skip
        subscribe: Frame = {"type": "subscribe", "channel": channel}
        if after is not None:
            subscribe["after"] = after
        await ws.send(json.dumps(subscribe))
        subscribed = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert subscribed["type"] == "subscribed", subscribed
        result = Client(name=name, ws=ws, channel=channel, frames=[subscribed])
        result.reader = asyncio.get_running_loop().create_task(result.read())
        try:
            yield result
        finally:
            await ws.close()
            await result.reader


def stored() -> list[tuple[int, int, str]]:
    """(seq, id, client_id) of every stored message, by seq."""
    return [(seq, pk, str(cid)) for seq, pk, cid in
            Message.objects.order_by("seq").values_list("seq", "pk", "client_id")]  # fmt: skip


def agents(world: World, count: int) -> dict[str, str]:
    """`count` participants of the world's participant institution: username → token."""
    users = [factories.make_user(f"agent{n:02d}", institution=world.participant_institution)
             for n in range(count)]  # fmt: skip
    return {user.username: factories.token_for(user) for user in users}


# --- (a) Redis killed while 20 clients send --------------------------------------------

CLIENTS = 20
BEFORE_KILL = 2  # messages each client has acknowledged before Redis dies
DURING_OUTAGE = 3  # messages each client sends with Redis dead


async def test_redis_killed_while_20_clients_send_loses_no_acknowledged_message(
    world: World, private_redis: PrivateRedis
) -> None:
    require_postgresql()
    tokens = await sync_to_async(agents)(world, CLIENTS)
    with servers(2, redis_url=private_redis.url) as stack:
        first, second = stack.servers  # type: ignore[attr-defined]
        acked: dict[str, Frame] = {}
        async with AsyncExitStack() as sockets:
            clients = [
                await sockets.enter_async_context(client((first, second)[n % 2], token, name))
                for n, (name, token) in enumerate(tokens.items())
            ]
            killed = asyncio.Event()

            async def talk(me: Client) -> None:
                for n in range(BEFORE_KILL + DURING_OUTAGE):
                    if n == BEFORE_KILL:
                        await killed.wait()
                    answer = await me.message(f"{me.name} #{n}")
                    assert answer["type"] == "message.ack", answer
                    acked[answer["client_id"]] = answer["message"]

            async def kill_when_half_way() -> None:
                while len(acked) < CLIENTS * BEFORE_KILL:
                    await asyncio.sleep(0.01)
                private_redis.kill()
                killed.set()

            # Redis dies while the slower clients are still sending their first messages.
            await asyncio.gather(kill_when_half_way(), *(talk(c) for c in clients))
            assert len(acked) == CLIENTS * (BEFORE_KILL + DURING_OUTAGE)
            private_redis.start()
            resume = {c.name: c.resume_after() for c in clients}
            first_sight = {c.name: c.new_messages() for c in clients}

        # Every acknowledged message is committed, once, in seq order without a gap.
        rows = await sync_to_async(stored)()
        assert sorted(cid for _, _, cid in rows) == sorted(acked)
        assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
        all_ids = [pk for _, pk, _ in rows]
        # The outage cost broadcasts (else this test would show nothing): some client has
        # a gap to fill.
        assert any(after < all_ids[-1] for after in resume.values())

        # Each client reconnects (to the other server) with `after` and gets the rest.
        async with AsyncExitStack() as sockets:
            again = [
                await sockets.enter_async_context(
                    client((second, first)[n % 2], tokens[name], name, after=resume[name])
                )
                for n, name in enumerate(tokens)
            ]
            for before, now in zip(first_sight.values(), again, strict=True):
                live_ids = [m["id"] for m in before]
                assert len(live_ids) == len(set(live_ids)), f"{now.name} saw a message twice"
                backlog = [m["id"] for m in now.frames[0]["messages"]]
                prefix = [i for i in all_ids if i <= resume[now.name]]
                assert prefix + backlog == all_ids, now.name

            # The servers serve again: a message from each reaches all, once.
            fresh = [await c.message(f"{c.name} is back") for c in again]
            assert {f["type"] for f in fresh} == {"message.ack"}
            fresh_ids = {f["message"]["id"] for f in fresh}
            for c in again:
                await c.wait_for(lambda frames: fresh_ids <= {
                    f["message"]["id"] for f in frames if f["type"] == "message.new"})  # fmt: skip
                ids = [m["id"] for m in c.new_messages()]
                assert len(ids) == len(set(ids)), f"{c.name} saw a message twice"


# --- (b) the database unavailable ------------------------------------------------------


@dataclass
class OwnDatabase:
    name: str
    admin_url: str

    @property
    def url(self) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{self.name}"

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(sql, params)  # type: ignore[arg-type]

    def allow_connections(self, allowed: bool) -> None:
        self.execute(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS {str(allowed).lower()}")
        if not allowed:
            self.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = %s", (self.name,))  # fmt: skip


def manage(database_url: str, *args: str) -> str:
    """One administration command against `database_url` (SPEC §6), its stdout."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "exchange.settings",
                   "EXCHANGE_DEBUG": "1", "DATABASE_URL": database_url}  # fmt: skip
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def own_database() -> Iterator[OwnDatabase]:
    """A database of this test's own, migrated (which makes the thematic channels), with
    two participants of an institution admitted to "cybercrime": set up as an operator
    would, with the commands."""
    require_postgresql()
    admin_url = live.test_database_url().rsplit("/", 1)[0] + "/postgres"
    database = OwnDatabase(name=f"exchange_fault_{os.getpid()}", admin_url=admin_url)
    database.execute(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")
    database.execute(f"CREATE DATABASE {database.name}")
    try:
        url = database.url
        manage(url, "migrate", "--noinput")
        manage(url, "create_institution", "policia-pe", "--name", "Policía Nacional del Perú",
               "--country", "PE", "--kind", "police")  # fmt: skip
        for username in ("sender", "watcher"):
            manage(url, "create_user", username, "--institution", "policia-pe")
        manage(url, "admit", "cybercrime", "policia-pe", "--role", "participant")
        yield database
    finally:
        database.allow_connections(True)
        database.execute(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")


async def test_with_the_database_gone_a_sender_gets_an_error_never_an_ack_and_nothing_is_broadcast(
    own_database: OwnDatabase, private_redis: PrivateRedis
) -> None:
    url = own_database.url
    tokens = {name: (await sync_to_async(manage)(url, "issue_token", name)).strip()
              for name in ("sender", "watcher")}  # fmt: skip
    env = {"DATABASE_URL": url, "EXCHANGE_DB_POOL_TIMEOUT": "2"}
    with servers(1, redis_url=private_redis.url, env=env) as stack:
        (server,) = stack.servers  # type: ignore[attr-defined]
        async with (
            client(server, tokens["sender"], "sender", channel="cybercrime") as sender,
            client(server, tokens["watcher"], "watcher", channel="cybercrime") as watcher,
        ):
            before = await sender.message("before the outage")
            assert before["type"] == "message.ack"
            await watcher.wait_for(lambda frames: len(watcher.new_messages()) == 1)

            await sync_to_async(own_database.allow_connections)(False)
            lost = str(uuid.uuid4())
            for _ in range(3):
                refused = await sender.message("during the outage", client_id=lost)
                assert (refused["type"], refused["code"], refused["ref"]) == (
                    "error", "unavailable", lost)  # fmt: skip
                assert refused["message"]
            # The socket itself stays open and answers.
            await sender.send({"type": "ping"})
            await sender.wait_for(lambda frames: frames[-1] == {"type": "pong"})

            await sync_to_async(own_database.allow_connections)(True)
            # A client resends the same client_id until it is acknowledged; a pooled
            # connection that died in the outage may fail one more time.
            for _ in range(20):
                answer = await sender.message("during the outage", client_id=lost)
                if answer["type"] == "message.ack":
                    break
                assert answer["code"] == "unavailable", answer
            assert answer["type"] == "message.ack"
            assert answer["message"]["seq"] == 2
            after = await sender.message("after the outage")
            assert after["message"]["seq"] == 3

            # The watcher heard exactly: before, the resent one, after; nothing from the outage.
            await watcher.wait_for(lambda frames: len(watcher.new_messages()) == 3)
            heard = [(m["seq"], m["body"]) for m in watcher.new_messages()]
            assert heard == [(1, "before the outage"), (2, "during the outage"),
                             (3, "after the outage")]  # fmt: skip
            assert [f["type"] for f in sender.frames].count("message.ack") == 2 + 1

    with psycopg.connect(url) as db:
        rows = db.execute("SELECT seq, body FROM channels_app_message ORDER BY seq").fetchall()
    assert rows == [(1, "before the outage"), (2, "during the outage"), (3, "after the outage")]


# --- (c) a worker killed mid-send ------------------------------------------------------

IN_FLIGHT = 10


async def test_a_worker_killed_mid_send_leaves_exactly_one_copy_after_the_retry(
    world: World, private_redis: PrivateRedis
) -> None:
    require_postgresql()
    token = await sync_to_async(factories.token_for)(world.member)
    with servers(2, redis_url=private_redis.url) as stack:
        doomed, survivor = stack.servers  # type: ignore[attr-defined]
        drafts = [(str(uuid.uuid4()), f"in flight #{n}") for n in range(IN_FLIGHT)]
        async with client(doomed, token, "before") as before:
            for client_id, body in drafts:
                await before.send({"type": "message.send", "channel": "ops",
                                   "client_id": client_id, "body": body})  # fmt: skip
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait()
        acked_before = {f["client_id"] for f in before.frames if f["type"] == "message.ack"}

        async with client(survivor, token, "retry") as retry:
            answers = [await retry.message(body, client_id) for client_id, body in drafts]
        assert [a["type"] for a in answers] == ["message.ack"] * IN_FLIGHT
        # An ack that reached the client before the kill names the same message.
        for answer in answers:
            if answer["client_id"] in acked_before:
                first = next(f for f in before.frames if f.get("client_id") == answer["client_id"])
                assert first["message"]["id"] == answer["message"]["id"]

    rows = await sync_to_async(stored)()
    assert sorted(cid for _, _, cid in rows) == sorted(cid for cid, _ in drafts)
    assert [seq for seq, _, _ in rows] == list(range(1, IN_FLIGHT + 1))


# --- (d) the Redis primary killed under Sentinel --------------------------------------------

SENTINEL_MASTER = "exchange-test"


@dataclass
class SentinelledRedis:
    """A private primary, its replica and three Debian redis-sentinel processes watching
    them (quorum 2, the primary called down after a second of silence)."""

    directory: Any
    primary: PrivateRedis = field(default_factory=PrivateRedis)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def _ask(self, port: int, *command: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(port), *command], capture_output=True, text=True, timeout=5
        ).stdout

    def start(self) -> None:
        self.primary.start()
        self.processes.append(subprocess.Popen(
            ["redis-server", "--port", str(self.replica_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--protected-mode", "no",
             "--replicaof", "127.0.0.1", str(self.primary.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        for port in self.sentinel_ports:
            config = self.directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.directory}\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} 5000\n"
            )
            self.processes.append(subprocess.Popen(
                ["redis-sentinel", str(config)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        # Ready once every sentinel knows the replica and the two other sentinels.
        deadline = time.monotonic() + 30
        while not all(self._knows_everyone(port) for port in self.sentinel_ports):
            assert time.monotonic() < deadline, "the sentinels did not find each other"
            time.sleep(0.2)

    def _knows_everyone(self, port: int) -> bool:
        fields = self._ask(port, "sentinel", "master", SENTINEL_MASTER).split()
        facts = dict(zip(fields[::2], fields[1::2], strict=False))
        return facts.get("num-slaves") == "1" and facts.get("num-other-sentinels") == "2"

    def primary_port(self) -> int:
        answer = self._ask(
            self.sentinel_ports[0], "sentinel", "get-master-addr-by-name", SENTINEL_MASTER
        ).split()
        return int(answer[1]) if len(answer) == 2 else 0

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()
        if self.primary.process is not None:
            self.primary.kill()


def _health(server: LiveServer) -> tuple[int, dict[str, str]]:
    with urllib.request.urlopen(f"{server.http}/healthz", timeout=TIMEOUT) as response:  # noqa: S310
        return response.status, json.loads(response.read())


@pytest.fixture
def sentinelled_redis(tmp_path: Any) -> Iterator[SentinelledRedis]:
    if shutil.which("redis-sentinel") is None:
        pytest.fail("redis-sentinel is not installed (make sentinel installs Debian's package)")
    redis = SentinelledRedis(directory=tmp_path)
    try:
        redis.start()
        yield redis
    finally:
        redis.stop()


async def test_the_redis_primary_killed_under_sentinel_fails_over_and_loses_nothing(
    world: World, sentinelled_redis: SentinelledRedis
) -> None:
    """Two servers find Redis through the sentinels. The primary is SIGKILLed while
    clients send; the sentinels promote the replica; broadcasts, rate limits and health
    follow the new primary with no restart, and every acknowledged message is stored
    once and reaches every client (gaps repaired with `after`)."""
    require_postgresql()
    tokens = await sync_to_async(agents)(world, 6)
    env = {"REDIS_SENTINELS": sentinelled_redis.sentinels,
           "REDIS_SENTINEL_MASTER": SENTINEL_MASTER}  # fmt: skip
    with servers(2, env=env) as stack:
        first, second = stack.servers  # type: ignore[attr-defined]
        acked: dict[str, Frame] = {}
        async with AsyncExitStack() as sockets:
            clients = [
                await sockets.enter_async_context(client((first, second)[n % 2], token, name))
                for n, (name, token) in enumerate(tokens.items())
            ]

            async def send_round(label: str) -> None:
                answers = await asyncio.gather(*(c.message(f"{c.name} {label}") for c in clients))
                for answer in answers:
                    assert answer["type"] == "message.ack", answer
                    acked[answer["client_id"]] = answer["message"]

            await send_round("before")
            before_ids = {message["id"] for message in acked.values()}
            for c in clients:  # the layer works through the sentinels' primary
                await c.wait_for(lambda frames: before_ids <= {
                    f["message"]["id"] for f in frames if f["type"] == "message.new"})  # fmt: skip
            old_primary = sentinelled_redis.primary.port
            sentinelled_redis.primary.kill()
            await send_round("during the failover")  # committed and acknowledged regardless
            deadline = time.monotonic() + 60
            while sentinelled_redis.primary_port() in (0, old_primary):
                assert time.monotonic() < deadline, "the sentinels did not fail over"
                await asyncio.sleep(0.2)
            assert sentinelled_redis.primary_port() == sentinelled_redis.replica_port

            # Broadcasts flow again across the two servers through the new primary.
            deadline = time.monotonic() + 60
            while True:
                probe = await clients[0].message("is the layer back?")
                acked[probe["client_id"]] = probe["message"]
                try:
                    await clients[1].wait_for(lambda frames, i=probe["message"]["id"]: any(
                        f["type"] == "message.new" and f["message"]["id"] == i
                        for f in frames))  # fmt: skip
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, "broadcasts did not resume"
            await send_round("after")
            resume = {c.name: c.resume_after() for c in clients}
            for server in (first, second):  # /healthz follows the new primary too
                status, parts = await asyncio.to_thread(_health, server)
                assert (status, parts) == (200, {"database": "ok", "redis": "ok", "layer": "ok"})

        rows = await sync_to_async(stored)()
        assert sorted(cid for _, _, cid in rows) == sorted(acked)
        all_ids = [pk for _, pk, _ in rows]
        async with AsyncExitStack() as sockets:
            for n, name in enumerate(tokens):
                again = await sockets.enter_async_context(
                    client((second, first)[n % 2], tokens[name], name, after=resume[name])
                )
                backlog = [m["id"] for m in again.frames[0]["messages"]]
                assert [i for i in all_ids if i <= resume[name]] + backlog == all_ids, name
        for server in (first, second):
            assert "Exception inside application" not in server.log_text()
