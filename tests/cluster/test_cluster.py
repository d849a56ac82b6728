"""The local cluster as production runs it: nginx in front of two workers on PostgreSQL
and Redis (scripts/cluster.py, deploy/nginx/exchange.conf.in), driven from outside by
real WebSocket clients through nginx only.

SPEC §8's promise under a crash: a worker is killed with SIGKILL while 20 clients send;
they reconnect through nginx to the live worker, resend what was not acknowledged with
the same client_id, catch up with `after`, and every acknowledged message is then seen
exactly once by every client, in seq order.

The cluster has its own ports, database (exchange_cluster_test, made afresh), Redis
database number and key prefixes, so a developer's `make cluster` is left alone. Run by
`make cluster-test` (the `cluster` marker keeps it out of the two database runs).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "exchange_cluster_test"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
CHANNEL = "cybercrime"
CLIENTS = 20
MESSAGES_EACH = 12
TIMEOUT = 20

SEED = """
import json
from channels_app.models import Channel
from permissions.institutions.registry import institution_upsert
from permissions.membership.services import admission_set
from permissions.people.services import user_upsert
from permissions.sign_in.tokens import token_issue

institution = institution_upsert(slug="cluster-police", name="Cluster Police", country="ES",
                                 kind="police")
admission_set(actor=None, channel=Channel.objects.get(slug="cybercrime"),
              institution=institution, role="participant")
tokens = {}
for number in range(COUNT):
    user = user_upsert(username=f"officer{number}", institution=institution)
    tokens[user.username] = token_issue(user=user, name="cluster test")
print(json.dumps(tokens))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fresh_database() -> None:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (DATABASE,),
        )
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DATABASE)))


@dataclass
class Cluster:
    url: str
    ws: str
    directory: Path
    env: dict[str, str]
    tokens: dict[str, str]

    def worker_pid(self, number: int) -> int:
        return int((self.directory / f"worker-{number}.pid").read_text())

    def worker_log(self, number: int) -> str:
        return (self.directory / f"worker-{number}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _fresh_database()
    directory = tmp_path_factory.mktemp("cluster")
    port = _free_port()
    run_id = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": "redis://127.0.0.1:6379/4",
        "WORKERS": "2",
        "EXCHANGE_CLUSTER_PORT": str(port),
        "EXCHANGE_CLUSTER_WORKER_PORT": str(random.randrange(20000, 40000, 2)),
        "EXCHANGE_CLUSTER_DIR": str(directory),
        "EXCHANGE_CHANNEL_LAYER_PREFIX": f"exchange-cluster-test-{run_id}",
        "EXCHANGE_RATE_LIMIT_PREFIX": f"exchange-cluster-test-limits-{run_id}",
    }
    script = [sys.executable, str(ROOT / "scripts" / "cluster.py")]
    started = subprocess.run([*script, "up"], env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr + started.stdout
    assert f"http://127.0.0.1:{port}/" in started.stdout
    try:
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED.replace("COUNT", str(CLIENTS))],
            cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "exchange.settings",
                           "EXCHANGE_DEBUG": "0", "EXCHANGE_SECRET_KEY": "x" * 50,
                           "EXCHANGE_ALLOWED_HOSTS": "127.0.0.1"},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        tokens = json.loads(seeded.stdout.strip().splitlines()[-1])
        yield Cluster(
            url=f"http://127.0.0.1:{port}/",
            ws=f"ws://127.0.0.1:{port}/ws/v1/",
            directory=directory,
            env=env,
            tokens=tokens,
        )
    finally:
        subprocess.run([*script, "down"], env=env, check=False)


def test_the_cluster_is_healthy_through_nginx(cluster: Cluster) -> None:
    with urllib.request.urlopen(cluster.url + "healthz", timeout=TIMEOUT) as response:  # noqa: S310
        assert response.status == 200
        assert json.loads(response.read()) == {"database": "ok", "redis": "ok", "layer": "ok"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _frame(ws: ClientConnection) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert isinstance(frame, dict)
    return frame


async def test_clients_on_both_workers_exchange_messages_through_nginx(cluster: Cluster) -> None:
    tokens = list(cluster.tokens.values())
    sockets = [
        await connect(cluster.ws, additional_headers=_bearer(token), open_timeout=TIMEOUT)
        for token in tokens[:4]
    ]
    try:
        for ws in sockets:
            await ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
            assert (await _frame(ws))["type"] == "subscribed"
        client_id = str(uuid.uuid4())
        await sockets[0].send(
            json.dumps(
                {"type": "message.send", "channel": CHANNEL, "client_id": client_id,
                 "body": "across workers"}
            )
        )  # fmt: skip
        sent_id = None
        for ws in sockets:
            while True:
                frame = await _frame(ws)
                if frame["type"] == "message.ack":
                    sent_id = frame["message"]["id"]
                    continue
                if frame["type"] == "message.new" and frame["message"]["body"] == "across workers":
                    break
        assert sent_id is not None
    finally:
        for ws in sockets:
            await ws.close()
    # nginx spread the four handshakes over both workers (daphne logs each WSCONNECT).
    assert "WSCONNECT" in cluster.worker_log(1)
    assert "WSCONNECT" in cluster.worker_log(2)


@dataclass
class Sender:
    """A client that sends its messages, keeps what the server acknowledged and what it
    saw, and survives its socket's death by reconnecting and resending."""

    username: str
    token: str
    to_send: list[tuple[str, str]]  # (client_id, body), in order
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> message id
    seen: dict[int, int] = field(default_factory=dict)  # message id -> seq
    errors: list[dict[str, Any]] = field(default_factory=list)
    reconnects: int = 0
    last_id: int | None = None

    def take(self, message: dict[str, Any]) -> None:
        # A live broadcast and a resubscription's backlog may overlap at the seam: clients
        # de-duplicate by id (SPEC §4).
        if message["id"] in self.seen:
            return
        self.seen[message["id"]] = message["seq"]
        self.last_id = max(self.last_id or 0, message["id"])

    async def session(self, ws_url: str, done: asyncio.Event) -> None:
        async with connect(
            ws_url, additional_headers=_bearer(self.token), open_timeout=TIMEOUT
        ) as ws:
            subscribe: dict[str, Any] = {"type": "subscribe", "channel": CHANNEL}
            if self.last_id is not None:
                subscribe["after"] = self.last_id
            await ws.send(json.dumps(subscribe))
            subscribed = await _frame(ws)
            assert subscribed["type"] == "subscribed", subscribed
            for message in subscribed["messages"]:
                self.take(message)

            async def send_all() -> None:
                for client_id, body in self.to_send:
                    if client_id in self.acked:
                        continue  # acknowledged before the crash: never sent again
                    frame = {"type": "message.send", "channel": CHANNEL,
                             "client_id": client_id, "body": body}  # fmt: skip
                    await ws.send(json.dumps(frame))
                    await asyncio.sleep(0.05)

            sending = asyncio.create_task(send_all())
            try:
                while not (done.is_set() and len(self.acked) == len(self.to_send)):
                    try:
                        frame = await asyncio.wait_for(ws.recv(), 1)
                    except TimeoutError:
                        continue
                    data = json.loads(frame)
                    if data["type"] == "message.ack":
                        self.acked[data["client_id"]] = data["message"]["id"]
                    elif data["type"] == "message.new":
                        self.take(data["message"])
                    elif data["type"] == "error":
                        self.errors.append(data)
            finally:
                sending.cancel()

    async def run(self, ws_url: str, done: asyncio.Event) -> None:
        while True:
            try:
                await self.session(ws_url, done)
                return
            except (ConnectionClosed, OSError, InvalidStatus, TimeoutError):
                self.reconnects += 1
                await asyncio.sleep(0.2 + random.random() * 0.3)


def _catch_up(cluster: Cluster, sender: Sender) -> None:
    """What the broadcasts did not bring, over HTTP (SPEC §8: a dropped broadcast is a
    gap in seq, fetched again, never a lost message)."""
    after = 0
    while True:
        request = urllib.request.Request(  # noqa: S310  (our own cluster)
            f"{cluster.url}api/v1/channels/{CHANNEL}/messages?after={after}&limit=200",
            headers=_bearer(sender.token),
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            page = json.loads(response.read())
        if not page:
            return
        for message in page:
            if message["id"] not in sender.seen:
                sender.seen[message["id"]] = message["seq"]
        after = page[-1]["id"]


async def test_a_worker_killed_while_20_clients_send_loses_and_doubles_nothing(
    cluster: Cluster,
) -> None:
    senders = [
        Sender(
            username=username,
            token=token,
            to_send=[(str(uuid.uuid4()), f"{username} #{n}") for n in range(MESSAGES_EACH)],
        )
        for username, token in list(cluster.tokens.items())[:CLIENTS]
    ]
    done = asyncio.Event()
    running = [asyncio.create_task(sender.run(cluster.ws, done)) for sender in senders]
    # Once the clients are sending (a few acknowledgements each), kill one worker outright.
    while sum(len(sender.acked) for sender in senders) < CLIENTS * 2:
        await asyncio.sleep(0.02)
    os.kill(cluster.worker_pid(1), signal.SIGKILL)
    acked_before_the_kill = sum(len(sender.acked) for sender in senders)
    done.set()
    await asyncio.wait_for(asyncio.gather(*running), 120)

    assert acked_before_the_kill < CLIENTS * MESSAGES_EACH, "the kill came after the load"
    assert sum(sender.reconnects for sender in senders) > 0, "the kill cut no socket"
    assert [error for sender in senders for error in sender.errors] == []
    acked = {message_id for sender in senders for message_id in sender.acked.values()}
    assert len(acked) == CLIENTS * MESSAGES_EACH  # every message acknowledged, none twice
    for sender in senders:
        await asyncio.to_thread(_catch_up, cluster, sender)
        assert acked <= set(sender.seen), f"{sender.username} missed acknowledged messages"
        ordered = [sender.seen[message_id] for message_id in sorted(sender.seen)]
        assert ordered == sorted(ordered), "seq follows id"
        assert len(set(ordered)) == len(ordered), "no seq twice"
    # Nothing stored twice: the messages of this run are exactly the acknowledged ones.
    bodies = await asyncio.to_thread(_bodies_in_database)
    assert sorted(bodies) == sorted(body for s in senders for _, body in s.to_send)


def _bodies_in_database() -> list[str]:
    with psycopg.connect(DATABASE_URL) as db:
        rows = db.execute(
            "SELECT body FROM channels_app_message WHERE body LIKE 'officer%%#%%'"
        ).fetchall()
    return [row[0] for row in rows]
