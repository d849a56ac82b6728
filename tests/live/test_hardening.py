"""Attacks on real daphne processes: cross-site WebSocket hijacking, oversized frames, and
the rate limits and socket cap shared by two processes over Redis (the production path).

Real sockets (the `websockets` client) and real HTTP (urllib) against tests/live/servers.py's
servers, on the test database; what a test writes is committed before a server reads it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from channels_app.models import Attachment
from permissions.models import ApiToken, User
from tests import factories
from tests.conftest import World
from tests.live.servers import LIVE_SECRET_KEY, LiveServer, daphne_server

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10  # seconds to wait for a frame: the machine is shared and slow at times
Frame = dict[str, Any]


def tokens_of(*users: User) -> dict[str, str]:
    return {user.username: factories.token_for(user) for user in users}


def session_cookie(user: User) -> str:
    """A session the live servers accept: made here under their secret key."""
    with override_settings(SECRET_KEY=LIVE_SECRET_KEY):
        client = Client()
        client.force_login(user)
    # The live servers serve plain HTTP (EXCHANGE_SECURE_COOKIES=0): no __Host- prefix.
    return f"sessionid={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def ping(ws: ClientConnection) -> Frame:
    await ws.send(json.dumps({"type": "ping"}))
    frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert isinstance(frame, dict)
    return frame


async def open_cookie_socket(server: LiveServer, cookie: str, origin: str | None) -> None:
    async with connect(
        server.ws,
        origin=Origin(origin) if origin is not None else None,
        additional_headers={"Cookie": cookie},
        open_timeout=TIMEOUT,
    ) as ws:
        assert await ping(ws) == {"type": "pong"}


@pytest.fixture
def memory_server() -> Iterator[LiveServer]:
    with daphne_server() as server:
        yield server


# --- cross-site WebSocket hijacking --------------------------------------------------------


async def test_cross_site_websocket_hijacking_with_a_foreign_null_or_missing_origin_is_refused(
    memory_server: LiveServer, world: World
) -> None:
    """A page on another site can make the browser open a socket with the user's cookie;
    only the Origin header tells it apart, so anything but an allowed host is refused."""
    cookie = await sync_to_async(session_cookie)(world.member)
    own = f"http://127.0.0.1:{memory_server.port}"
    await open_cookie_socket(memory_server, cookie, own)  # the control: the real page works
    hostile = [
        "https://evil.example",
        "http://127.0.0.1.evil.example",
        "http://evil.example:" + str(memory_server.port),
        "null",  # a sandboxed iframe or a file: page
        None,  # a non-browser client replaying a stolen cookie must use a token instead
    ]
    for origin in hostile:
        with pytest.raises(InvalidStatus) as refused:
            await open_cookie_socket(memory_server, cookie, origin)
        assert refused.value.response.status_code == 403, origin


async def test_a_bearer_token_socket_needs_no_origin_since_no_browser_sends_it_by_itself(
    memory_server: LiveServer, world: World
) -> None:
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    async with connect(
        memory_server.ws,
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=TIMEOUT,
    ) as ws:
        assert await ping(ws) == {"type": "pong"}


# --- a credential's end ---------------------------------------------------------------------


def token_expiring_in(user: User, seconds: float) -> str:
    secret = factories.token_for(user)
    ApiToken.objects.filter(prefix=secret[:12]).update(
        expires_at=timezone.now() + timedelta(seconds=seconds)
    )
    return secret


async def test_a_token_that_expires_while_its_socket_is_open_closes_it_at_expiry(
    memory_server: LiveServer, world: World
) -> None:
    """As found: after the expiry `GET /me` said 401 but the socket kept receiving
    `message.new` and getting `message.ack`. Now it closes with 4401 at the expiry, with
    the periodic credential check a minute away."""
    token = await sync_to_async(token_expiring_in)(world.member, 3)
    async with connect(
        memory_server.ws,
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=TIMEOUT,
    ) as ws:
        assert await ping(ws) == {"type": "pong"}
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


# --- repeated abuse ----------------------------------------------------------------------


async def test_flooding_message_send_past_the_rate_limit_closes_with_4008_not_a_server_crash(
    world: World,
) -> None:
    """The abuse close must pass through daphne's autobahn, which raises on 1008 (the
    client then saw 1011 and the server logged a traceback)."""
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    env = {"EXCHANGE_RATE_WS_FRAMES": "2/minute", "EXCHANGE_WS_RATE_LIMITED_CLOSE_AFTER": "3"}
    with daphne_server(env=env) as server:
        async with connect(
            server.ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=TIMEOUT
        ) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(50):
                    frame = {
                        "type": "message.send",
                        "channel": "ops",
                        "client_id": str(uuid.uuid4()),
                        "body": "flood",
                    }
                    await ws.send(json.dumps(frame))
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4008
        await asyncio.sleep(0.5)
        assert "Exception inside application" not in server.log_text()


# --- sizes -----------------------------------------------------------------------------------


async def announce_a_frame(server: LiveServer, token: str, length: int) -> bytes | None:
    """Open a socket by hand and send only the header of a text frame of `length` bytes.

    Returns what the server sends before the connection ends, or None when it ends at
    once (autobahn fails an oversized frame by dropping the TCP connection). A server that
    buffered the frame would instead wait for the payload: a TimeoutError here."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws/v1/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        handshake = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert handshake.startswith(b"HTTP/1.1 101"), handshake
        # FIN + text; masked, 64-bit length; the mask key; and none of the payload.
        writer.write(b"\x81\xff" + struct.pack(">Q", length) + b"\0\0\0\0")
        await writer.drain()
        received = b""
        while chunk := await asyncio.wait_for(reader.read(64), TIMEOUT):
            received += chunk
        return received or None
    except ConnectionResetError:
        return None
    finally:
        writer.close()


async def test_a_16_mib_frame_is_cut_off_by_the_transport_and_the_server_keeps_serving(
    memory_server: LiveServer, world: World
) -> None:
    """The header alone announces 16 MiB: the server drops the connection at once instead
    of waiting to buffer the payload."""
    tokens = await sync_to_async(tokens_of)(world.member, world.owner)
    answer = await announce_a_frame(memory_server, tokens["mateo"], 16 * 1024 * 1024)
    # Nothing, or at most a close frame with 1009 ("message too big").
    assert answer is None or answer[:4] == b"\x88\x02\x03\xf1", answer
    # A frame over the consumer's 64 KiB but under the transport's limit gets an error
    # frame, and the server serves everyone as before.
    headers = {"Authorization": f"Bearer {tokens['olivia']}"}
    async with connect(memory_server.ws, additional_headers=headers, open_timeout=TIMEOUT) as ws:
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 100_000}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["code"] == "too_large"
        assert await ping(ws) == {"type": "pong"}


# --- a client that stops reading -------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_socket_that_stops_reading_is_closed_with_4009_before_it_grows_the_server(
    world: World,
) -> None:
    """A subscriber that never reads while a channel is busy: every broadcast would wait
    in the server's buffer for it, for as long as the connection lives. Past the send
    queue cap it is closed (4009: resume with `after`) and its frames are dropped; the
    server's memory stays flat and the busy sender is served throughout."""
    tokens = await sync_to_async(tokens_of)(world.member, world.owner)
    env = {"EXCHANGE_WS_SEND_QUEUE_KB": "256", "EXCHANGE_RATE_WS_FRAMES": "10000/second"}
    with daphne_server(env=env) as server:
        stalled_socket = socket.socket()
        stalled_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled_socket.connect(("127.0.0.1", server.port))
        stalled = await connect(
            server.ws, sock=stalled_socket, max_queue=1, max_size=2**22, open_timeout=TIMEOUT,
            additional_headers={"Authorization": f"Bearer {tokens['mateo']}"},
        )  # fmt: skip
        await stalled.send(json.dumps({"type": "subscribe", "channel": "ops"}))
        assert json.loads(await asyncio.wait_for(stalled.recv(), TIMEOUT))["type"] == "subscribed"
        async with connect(
            server.ws, additional_headers={"Authorization": f"Bearer {tokens['olivia']}"},
            max_size=2**22, open_timeout=TIMEOUT,
        ) as busy:  # fmt: skip
            start = rss_kib(server.process.pid)
            body = "x" * 10_000
            for _ in range(2_000):  # 20 MB of broadcasts for the socket that reads nothing
                frame = {"type": "message.send", "channel": "ops",
                         "client_id": str(uuid.uuid4()), "body": body}  # fmt: skip
                await busy.send(json.dumps(frame))
                while (answer := json.loads(await asyncio.wait_for(busy.recv(), TIMEOUT)))[
                    "type"
                ] == "message.new":
                    pass
                assert answer["type"] == "message.ack", answer
            growth_mib = (rss_kib(server.process.pid) - start) / 1024
        # The stalled client reads at last: what was queued before the cap, then the end.
        received = 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(stalled.recv(), TIMEOUT)
                received += 1
        assert received < 2_000
        assert closed.value.rcvd is None or closed.value.rcvd.code == 4009
        assert growth_mib < 10, f"the server grew by {growth_mib:.1f} MiB"
        assert "Exception inside application" not in server.log_text()


# --- how a request arrives: its size and its pace, before the application sees it --------


@pytest.fixture
def impatient_server() -> Iterator[LiveServer]:
    """Short arrival bounds and a 1 MB upload limit, so a refusal takes seconds."""
    env = {
        "EXCHANGE_MAX_UPLOAD_MB": "1",
        "EXCHANGE_REQUEST_HEADERS_SECONDS": "2",
        "EXCHANGE_REQUEST_BODY_SECONDS": "2",
    }
    with daphne_server(env=env) as server:
        yield server


async def raw_answer(server: LiveServer, sent: bytes) -> tuple[bytes, dict[str, Any]]:
    """Send `sent` as it is, then read until the server closes the connection: the
    status line and the JSON body of its answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(sent)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, body = rest.partition(b"\r\n\r\n")
    return status_line, json.loads(body)


def upload_head(server: LiveServer, token: str, length: int, *extra: str) -> bytes:
    lines = [
        "POST /api/v1/channels/ops/attachments HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Authorization: Bearer {token}",
        "Content-Type: multipart/form-data; boundary=b",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_still_serving(server: LiveServer, token: str) -> None:
    request = urllib.request.Request(  # noqa: S310  (a URL of our own test server)
        f"{server.http}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        assert response.status == 200


@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-100-continue"])
async def test_an_upload_announcing_more_than_the_limit_gets_413_at_once_not_after_its_body(
    impatient_server: LiveServer, world: World, expect: bool
) -> None:
    """As found: `Content-Length: 50 MiB` and no body was not answered within seconds.
    Refused from the announced length alone, before any of the body (and with no
    "100 Continue" inviting it)."""
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    extra = ["Expect: 100-continue"] if expect else []
    head = upload_head(impatient_server, token, 50 * 1024 * 1024, *extra)
    status, body = await raw_answer(impatient_server, head)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert body["error"]["code"] == "too_large"
    assert "1 MB" in body["error"]["message"]
    await sync_to_async(assert_still_serving)(impatient_server, token)


async def test_a_request_whose_headers_never_finish_gets_408(
    impatient_server: LiveServer, world: World
) -> None:
    """Slowloris: a request line and a header, then nothing; Twisted alone would wait a
    minute per silence, forever for a trickle."""
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    sent = f"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1:{impatient_server.port}\r\n"
    status, body = await raw_answer(impatient_server, sent.encode())
    assert status == b"HTTP/1.1 408 Request Timeout"
    assert body["error"] == {
        "code": "timeout",
        "message": "The request arrived too slowly: its headers took over 2 s.",
    }
    await sync_to_async(assert_still_serving)(impatient_server, token)


async def test_a_body_that_stops_arriving_gets_408(
    impatient_server: LiveServer, world: World
) -> None:
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    head = upload_head(impatient_server, token, 100_000)
    status, body = await raw_answer(impatient_server, head + b"--b\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout"
    assert body["error"]["code"] == "timeout"
    assert "its body came slower than 16 KB/s" in body["error"]["message"]
    await sync_to_async(assert_still_serving)(impatient_server, token)


def multipart(parts: list[tuple[str, str | None]]) -> bytes:
    """A form of (name, filename or None) parts, each holding "x"."""
    chunks = []
    for name, filename in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        chunks.append(f"--b\r\nContent-Disposition: {disposition}\r\n\r\nx\r\n")
    return ("".join(chunks) + "--b--\r\n").encode()


FORMS = {
    "5000-fields": [(f"field{i}", None) for i in range(5000)],
    "150-files": [(f"file{i}", f"f{i}.age") for i in range(150)],
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
async def test_too_many_form_parts_through_daphne_get_400_not_500(
    memory_server: LiveServer, world: World, form: list[tuple[str, str | None]]
) -> None:
    """TooManyFieldsSent / TooManyFilesSent answered 500 `server_error` through a real
    server; now SPEC's 400, and nothing is stored."""
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    body = multipart(form)
    head = upload_head(memory_server, token, len(body), "Connection: close")
    status, answer = await raw_answer(memory_server, head + body)
    assert status == b"HTTP/1.1 400 Bad Request"
    assert answer["error"]["code"] == "bad_request"
    assert "Too many form parts" in answer["error"]["message"]
    assert not await sync_to_async(Attachment.objects.exists)()
    assert "Exception inside application" not in memory_server.log_text()


# --- the production path: two processes sharing Redis ----------------------------------------


@pytest.fixture
def limited_servers(redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two daphne processes on one Redis with small limits and a fresh key prefix."""
    env = {
        "EXCHANGE_RATE_WS_FRAMES": "4/minute",
        "EXCHANGE_RATE_API_WRITES": "3/minute",
        "EXCHANGE_MAX_SOCKETS_PER_USER": "2",
        "EXCHANGE_SOCKET_SLOT_TTL": "3",
        "EXCHANGE_RATE_LIMIT_PREFIX": f"exchange-test-limits-{uuid.uuid4().hex}",
    }
    with ExitStack() as stack:
        with ThreadPoolExecutor(2) as pool:
            starting = [
                pool.submit(stack.enter_context, daphne_server(redis_url=redis_url, env=env))
                for _ in range(2)
            ]
        first, second = (future.result() for future in starting)
        yield first, second


def api_post(server: LiveServer, token: str) -> tuple[int, dict[str, Any], str | None]:
    request = urllib.request.Request(  # noqa: S310  (a URL of our own test server)
        f"{server.http}/api/v1/channels/ops/messages",
        data=json.dumps({"body": "hello", "client_id": str(uuid.uuid4())}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, json.loads(response.read()), None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("Retry-After")


@pytest.mark.production
async def test_flooding_two_server_processes_draws_on_one_shared_budget(
    limited_servers: tuple[LiveServer, LiveServer], world: World
) -> None:
    first, second = limited_servers
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        connect(first.ws, additional_headers=headers, open_timeout=TIMEOUT) as a,
        connect(second.ws, additional_headers=headers, open_timeout=TIMEOUT) as b,
    ):
        for ws in (a, a, b, b):  # four frames allowed, counted across both processes
            assert await ping(ws) == {"type": "pong"}
        for ws in (a, b):
            refused = await ping(ws)
            assert (refused["type"], refused["code"]) == ("error", "rate_limited")
            assert refused["retry_after"] >= 1
    # The API's writes likewise: three in all, whichever process takes them.
    results = [
        await sync_to_async(api_post)(server, token) for server in (first, second, first, second)
    ]
    assert [status for status, _, _ in results] == [201, 201, 201, 429]
    _, body, retry_after = results[-1]
    assert body["error"]["code"] == "rate_limited" and int(retry_after or 0) >= 1


async def cookie_free_socket(server: LiveServer, token: str) -> ClientConnection:
    return await connect(
        server.ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=TIMEOUT
    )


@pytest.mark.production
async def test_opening_sockets_on_every_process_still_meets_one_cap_and_a_crash_frees_its_slots(
    limited_servers: tuple[LiveServer, LiveServer], world: World
) -> None:
    first, second = limited_servers
    token = (await sync_to_async(tokens_of)(world.member))["mateo"]
    on_first = await cookie_free_socket(first, token)
    on_second = await cookie_free_socket(second, token)
    try:
        for server in (first, second):
            with pytest.raises(InvalidStatus) as refused:
                await cookie_free_socket(server, token)
            assert refused.value.response.status_code == 403
        # The first process dies without closing anything: its socket's slot is never
        # given back, and expires once nobody refreshes it.
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=TIMEOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                replacement = await cookie_free_socket(second, token)
                break
            except InvalidStatus:
                assert time.monotonic() < deadline, "the crashed process's slot never expired"
                await asyncio.sleep(0.5)
        try:
            # The socket that lived on through all this kept its slot fresh: the cap of
            # two is full again.
            assert await ping(on_second) == {"type": "pong"}
            with pytest.raises(InvalidStatus):
                await cookie_free_socket(second, token)
        finally:
            await replacement.close()
    finally:
        await on_first.close()
        await on_second.close()
