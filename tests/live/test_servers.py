"""Real daphne processes and real sockets (the `websockets` client), on the test database.

One server on the in-memory layer (the embedded mode of SPEC §7) shows two institutions
talking in real time and the refusals. Two servers sharing Redis (the production path)
show that a broadcast crosses processes and that concurrent senders on both still get
seq numbers 1..N with no gap and no duplicate (SPEC §2, §8).

Data is written before the sockets open and committed (`transaction=True`), because the
servers are other processes; checks of the database afterwards run in a worker thread,
since Django refuses ORM calls from the event loop.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from channels_app.models import Channel, Message
from permissions.models import Institution, User
from tests import factories
from tests.conftest import World
from tests.live.servers import LiveServer, daphne_server

pytestmark = pytest.mark.django_db(transaction=True)

Frame = dict[str, Any]
TIMEOUT = 10  # seconds: generous for a loaded two-core machine; tests wait for frames, not time


@pytest.fixture
def memory_server() -> Iterator[LiveServer]:
    """One daphne on the in-memory layer.

    One per test, not per module: the database flush after a transactional test deletes
    and recreates the content types under new ids, and a server process that outlived it
    would look permissions up by the ids it cached.
    """
    with daphne_server() as server:
        yield server


@pytest.fixture
def redis_servers(redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two daphne processes sharing Redis: the production topology, minus nginx.

    Both start at once (each takes seconds to import Django); the stack stops both.
    """
    with ExitStack() as stack:
        with ThreadPoolExecutor(2) as pool:
            starting = [
                pool.submit(stack.enter_context, daphne_server(redis_url=redis_url))
                for _ in range(2)
            ]
        first, second = (future.result() for future in starting)
        yield first, second


@dataclass
class People:
    world: World
    prosecution: Institution
    prosecutor: User
    tokens: dict[str, str]


@pytest.fixture
def people(world: World) -> People:
    """The standing world plus a participant of a second institution, each with a token."""
    prosecution = factories.make_institution("fiscalia-mx", country="MX", kind="prosecution")
    factories.admit(world.channel, prosecution, "participant")
    prosecutor = factories.make_user("fabiola", institution=prosecution)
    users = [world.owner, world.member, world.observer, world.outsider, prosecutor]
    return People(
        world=world,
        prosecution=prosecution,
        prosecutor=prosecutor,
        tokens={user.username: factories.token_for(user) for user in users},
    )


@asynccontextmanager
async def socket(server: LiveServer, token: str) -> AsyncIterator[ClientConnection]:
    """A real WebSocket authenticated by a bearer token, with no Origin header."""
    async with connect(
        server.ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=TIMEOUT
    ) as ws:
        yield ws


async def send(ws: ClientConnection, frame: Frame) -> None:
    await ws.send(json.dumps(frame))


async def receive(ws: ClientConnection) -> Frame:
    frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert isinstance(frame, dict)
    return frame


async def subscribe(ws: ClientConnection, slug: str = "ops") -> Frame:
    await send(ws, {"type": "subscribe", "channel": slug})
    return await receive(ws)


async def send_message(
    ws: ClientConnection, body: str, *, slug: str = "ops", parent: int | None = None
) -> str:
    client_id = str(uuid.uuid4())
    frame: Frame = {"type": "message.send", "channel": slug, "client_id": client_id, "body": body}
    if parent is not None:
        frame["parent"] = parent
    await send(ws, frame)
    return client_id


async def collect(ws: ClientConnection, wanted: dict[str, int]) -> dict[str, list[Frame]]:
    """Read frames until `wanted[type]` of each type arrived; any other frame is a failure."""
    got: dict[str, list[Frame]] = {frame_type: [] for frame_type in wanted}
    while any(len(got[t]) < n for t, n in wanted.items()):
        frame = await receive(ws)
        assert frame["type"] in wanted, frame
        got[frame["type"]].append(frame)
    return got


def stored() -> list[tuple[int, str, str]]:
    return list(Message.objects.order_by("seq").values_list("seq", "author__username", "body"))


# --- one server, the in-memory layer -------------------------------------------------


async def test_two_institutions_exchange_messages_in_real_time(
    memory_server: LiveServer, people: People
) -> None:
    async with (
        socket(memory_server, people.tokens["mateo"]) as spain,
        socket(memory_server, people.tokens["fabiola"]) as mexico,
    ):
        for ws in (spain, mexico):
            assert await subscribe(ws) == {"type": "subscribed", "channel": "ops", "messages": []}

        question = await send_message(spain, "¿Alguien ha visto este ransomware?")
        mine = await collect(spain, {"message.ack": 1, "message.new": 1})
        (ack,) = mine["message.ack"]
        assert ack["client_id"] == question
        assert mine["message.new"][0]["message"] == ack["message"]
        (heard,) = (await collect(mexico, {"message.new": 1}))["message.new"]
        assert heard["message"] == ack["message"]
        assert heard["message"]["author"]["institution"] == {
            "slug": "guardia-civil",
            "name": "Guardia Civil",
            "country": "ES",
        }

        await send_message(mexico, "Sí: mismo grupo, otra variante.", parent=heard["message"]["id"])
        answered = await collect(mexico, {"message.ack": 1, "message.new": 1})
        (reply,) = (await collect(spain, {"message.new": 1}))["message.new"]
        assert reply["message"] == answered["message.ack"][0]["message"]
        assert reply["message"]["author"]["username"] == "fabiola"
        assert reply["message"]["author"]["institution"]["country"] == "MX"
        assert reply["message"]["parent"] == ack["message"]["id"]
        assert reply["message"]["seq"] == 2

    assert await sync_to_async(stored)() == [
        (1, "mateo", "¿Alguien ha visto este ransomware?"),
        (2, "fabiola", "Sí: mismo grupo, otra variante."),
    ]


async def test_a_real_server_refuses_strangers_outsiders_and_observers(
    memory_server: LiveServer, people: People
) -> None:
    forged = [{}, {"Authorization": "Bearer exch_not-a-token"}, {"Cookie": "sessionid=forged"}]
    for headers in forged:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                memory_server.ws,
                origin=Origin(f"http://127.0.0.1:{memory_server.port}"),
                additional_headers=headers,
                open_timeout=TIMEOUT,
            ):
                pass
        assert refused.value.response.status_code == 403, headers

    async with (
        socket(memory_server, people.tokens["ursula"]) as outsider,
        socket(memory_server, people.tokens["oscar"]) as observer,
    ):
        refused_frame = await subscribe(outsider)
        assert (refused_frame["type"], refused_frame["code"], refused_frame["channel"]) == (
            "error",
            "forbidden",
            "ops",
        )
        attempt = await send_message(outsider, "let me in")
        error = await receive(outsider)
        assert (error["code"], error["ref"]) == ("forbidden", attempt)

        assert (await subscribe(observer))["type"] == "subscribed"
        attempt = await send_message(observer, "only reading, really")
        error = await receive(observer)
        assert (error["code"], error["ref"]) == ("forbidden", attempt)

        # Both sockets stay open and answer.
        for ws in (outsider, observer):
            await send(ws, {"type": "ping"})
            assert await receive(ws) == {"type": "pong"}
    assert await sync_to_async(stored)() == []


async def test_bad_frames_over_a_real_socket_get_errors_and_the_server_keeps_serving(
    memory_server: LiveServer, people: People
) -> None:
    async with socket(memory_server, people.tokens["mateo"]) as ws:
        await ws.send("")
        assert (await receive(ws))["code"] == "bad_request"
        await ws.send(b"\x00\xff binary")
        assert (await receive(ws))["code"] == "bad_request"
        await ws.send("[" * 30_000 + "]" * 30_000)
        assert (await receive(ws))["code"] == "bad_request"
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
        assert (await receive(ws))["code"] == "too_large"
        await send(ws, {"type": "ping"})
        assert await receive(ws) == {"type": "pong"}
    async with socket(memory_server, people.tokens["fabiola"]) as ws:
        assert (await subscribe(ws))["type"] == "subscribed"


# --- two servers sharing Redis -------------------------------------------------------


async def test_a_message_sent_through_one_process_reaches_a_subscriber_on_the_other(
    redis_servers: tuple[LiveServer, LiveServer], people: People
) -> None:
    first, second = redis_servers
    async with (
        socket(first, people.tokens["mateo"]) as sender,
        socket(second, people.tokens["fabiola"]) as listener,
        socket(second, people.tokens["oscar"]) as observer,
    ):
        for ws in (sender, listener, observer):
            assert (await subscribe(ws))["type"] == "subscribed"
        await send_message(sender, "across processes")
        (ack,) = (await collect(sender, {"message.ack": 1, "message.new": 1}))["message.ack"]
        for ws in (listener, observer):
            (frame,) = (await collect(ws, {"message.new": 1}))["message.new"]
            assert frame["message"] == ack["message"]

        # And back the other way.
        await send_message(listener, "and back")
        await collect(listener, {"message.ack": 1, "message.new": 1})
        for ws in (sender, observer):
            (frame,) = (await collect(ws, {"message.new": 1}))["message.new"]
            assert (frame["message"]["body"], frame["message"]["seq"]) == ("and back", 2)
    assert await sync_to_async(stored)() == [
        (1, "mateo", "across processes"),
        (2, "fabiola", "and back"),
    ]


SENDERS = 20
MESSAGES_EACH = 3


async def test_concurrent_senders_on_two_processes_get_contiguous_seq_numbers(
    redis_servers: tuple[LiveServer, LiveServer], people: People
) -> None:
    """SENDERS sockets, half on each process, all sending at once; two observers (one per
    process) must each see every message once, and the database must hold seq 1..N."""
    total = SENDERS * MESSAGES_EACH
    authors = ["mateo", "fabiola", "olivia"]
    async with AsyncExitStack() as stack:
        senders = [
            await stack.enter_async_context(
                socket(redis_servers[i % 2], people.tokens[authors[i % 3]])
            )
            for i in range(SENDERS)
        ]
        observers = [
            await stack.enter_async_context(socket(server, people.tokens["oscar"]))
            for server in redis_servers
        ]
        for ws in [*senders, *observers]:
            assert (await subscribe(ws))["type"] == "subscribed"

        async def send_all(i: int, ws: ClientConnection) -> dict[str, list[Frame]]:
            client_ids = [await send_message(ws, f"sender {i} #{n}") for n in range(MESSAGES_EACH)]
            got = await collect(ws, {"message.ack": MESSAGES_EACH, "message.new": total})
            assert [a["client_id"] for a in got["message.ack"]] == client_ids
            return got

        sent, heard = await asyncio.gather(
            asyncio.gather(*(send_all(i, ws) for i, ws in enumerate(senders))),
            asyncio.gather(*(collect(ws, {"message.new": total}) for ws in observers)),
        )

    acked_seqs = sorted(a["message"]["seq"] for got in sent for a in got["message.ack"])
    assert acked_seqs == list(range(1, total + 1))
    for got in [*sent, *heard]:
        frames = got["message.new"]
        seqs = [f["message"]["seq"] for f in frames]
        assert sorted(seqs) == list(range(1, total + 1))  # every one, none twice
        ids = [f["message"]["id"] for f in frames]
        assert len(set(ids)) == total
    rows = await sync_to_async(stored)()
    assert [seq for seq, _, _ in rows] == list(range(1, total + 1))
    assert len({body for _, _, body in rows}) == total
    channel = await sync_to_async(Channel.objects.get)(pk=people.world.channel.pk)
    assert channel.last_seq == total
