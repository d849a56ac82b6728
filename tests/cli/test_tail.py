"""`tail` keeps SPEC §8's promise across a killed and restarted server: every message
printed once, in seq order, including those committed while the server was down; and a
gap in seq (a dropped broadcast) is repaired over HTTP before anything later is printed."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from exchange_client.client import Client
from exchange_client.config import Store
from exchange_client.tail import Tail
from tests import factories
from tests.cli.kit import SERVER_ENV, logged_in
from tests.conftest import World
from tests.live import servers

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 60  # seconds; reconnect backoff tops out at 10


def reader(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def until_seq(lines: queue.Queue[str], seen: list[dict[str, object]], seq: int) -> None:
    deadline = time.monotonic() + WAIT
    while not seen or int(seen[-1]["seq"]) < seq:  # type: ignore[call-overload]
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"tail printed only {[m['seq'] for m in seen]}"
        try:
            seen.append(json.loads(lines.get(timeout=remaining)))
        except queue.Empty:
            continue


def test_tail_survives_a_server_restart_and_misses_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, media_root: Path
) -> None:
    port = servers.free_port()
    monkeypatch.setattr(servers, "free_port", lambda: port)  # the restart keeps the URL
    env = {**SERVER_ENV, "EXCHANGE_MEDIA_ROOT": str(media_root)}
    seen: list[dict[str, object]] = []
    with servers.daphne_server(env=env) as server:
        olivia = logged_in(tmp_path, "olivia", world.owner, server)
        mateo = logged_in(tmp_path, "mateo", world.member, server)
        for body in ("m1", "m2"):
            olivia.run("send", "ops", body, check=True)
        tail = mateo.popen("tail", "ops", "--json")
        lines = reader(tail)
        until_seq(lines, seen, 2)  # no position yet: the newest messages
        olivia.run("send", "ops", "m3", check=True)
        until_seq(lines, seen, 3)
    try:
        # The server is down: committed meanwhile (another server process, say).
        factories.post(world.owner, world.channel, "m4")
        factories.post(world.member, world.channel, "m5")
        resend = str(uuid.uuid4())
        down = olivia.run("send", "ops", "m6", "--client-id", resend)
        assert down.returncode == 1 and down.stderr.startswith("error: network: ")
        with servers.daphne_server(env=env) as server:
            olivia.run("send", "ops", "m6", "--client-id", resend, check=True)  # once only
            olivia.run("send", "ops", "m7", check=True)
            until_seq(lines, seen, 7)
            assert tail.poll() is None
            tail.terminate()
            tail.wait(timeout=10)
            assert [m["seq"] for m in seen] == [1, 2, 3, 4, 5, 6, 7]
            assert [m["body"] for m in seen] == ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
            # The position was kept: a later tail starts after m7.
            olivia.run("send", "ops", "m8", check=True)
            after = [json.loads(x) for x in mateo.run("tail", "ops", "--once", "--json").lines]
            assert [m["body"] for m in after] == ["m8"]

            # A dropped broadcast: seq 10 offered right after 8 prints 9 first, fetched.
            factories.post(world.owner, world.channel, "m9")
            ten = factories.post(world.owner, world.channel, "m10")
            printed: list[dict[str, object]] = []
            store = Store(mateo.config)
            with Client(server.http, json.loads(mateo.config.read_text())["token"]) as client:
                follower = Tail(client, store, "ops", after=None, emit=printed.append)
                (last,) = client.messages("ops", after=ten.pk - 1)
                follower.offer([last])
                follower.offer([last])  # a duplicate: nothing
            assert [(m["seq"], m["body"]) for m in printed] == [(9, "m9"), (10, "m10")]
            assert store.tail_position("ops") == {"id": ten.pk, "seq": 10}
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
