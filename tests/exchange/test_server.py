"""Exchange's daphne keeps request bodies out of memory (daphne#483)."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exchange.server import BodySpoolingQueue, ExchangeServer
from tests.live.servers import free_port


def spooling_queue() -> asyncio.Queue:  # type: ignore[type-arg]
    queue: asyncio.Queue = asyncio.Queue()  # type: ignore[type-arg]
    queue.__class__ = BodySpoolingQueue
    return queue


async def test_a_large_body_is_spooled_and_given_back_in_order() -> None:
    queue = spooling_queue()
    chunks = [os.urandom(8192) for _ in range(2000)]  # 16 MiB, as daphne would put it
    for index, chunk in enumerate(chunks):
        queue.put_nowait(
            {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        )
    queue.put_nowait({"type": "http.disconnect"})
    assert queue.qsize() == 2  # the spool's place, then the disconnect: no chunk in memory
    digest, received, last = hashlib.sha256(), 0, None
    while True:
        message = await queue.get()
        if message["type"] != "http.request":
            last = message
            break
        digest.update(message["body"])
        received += len(message["body"])
        assert message["more_body"] == (received < 2000 * 8192)
    assert received == 2000 * 8192
    assert digest.digest() == hashlib.sha256(b"".join(chunks)).digest()
    assert last == {"type": "http.disconnect"}


async def test_a_small_body_passes_through_untouched() -> None:
    queue = spooling_queue()
    message = {"type": "http.request", "body": b"{}", "more_body": False}
    queue.put_nowait(message)
    assert await queue.get() is message


async def test_a_reader_waiting_before_the_body_arrives_is_woken() -> None:
    queue = spooling_queue()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait({"type": "http.request", "body": b"a" * 10, "more_body": True})
    queue.put_nowait({"type": "http.request", "body": b"b" * 10, "more_body": False})
    first = await asyncio.wait_for(reader, 5)
    rest = await queue.get() if first["more_body"] else {"body": b""}
    assert first["body"] + rest["body"] == b"a" * 10 + b"b" * 10


def test_the_server_class_is_what_the_command_line_starts() -> None:
    from exchange.server import ExchangeCommandLine

    assert ExchangeCommandLine.server_class is ExchangeServer


def _peak_rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@contextmanager
def echo_server() -> Iterator[tuple[subprocess.Popen[bytes], http.client.HTTPConnection]]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "exchange.server", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
         "tests.asgi_echo:application"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                connection.connect()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield server, connection
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_slow_reader_of_a_large_download_does_not_fill_the_server_memory() -> None:
    with echo_server() as (server, connection):
        at_rest = _peak_rss_kib(server.pid)
        connection.request("GET", "/stream/128")
        response = connection.getresponse()
        time.sleep(3)  # the client reads nothing: without backpressure all 128 MiB queue up
        stalled_mib = (_peak_rss_kib(server.pid) - at_rest) / 1024
        received = 0
        while block := response.read(1024 * 1024):
            received += len(block)
        assert received == 128 * 1024 * 1024
        assert stalled_mib < 32, f"the server buffered {stalled_mib:.0f} MiB for a stalled reader"


def test_a_large_multipart_upload_leaves_the_server_memory_flat() -> None:
    """The attack, or the honest 1 GiB attachment: memory must not grow with the body."""
    with echo_server() as (server, connection):
        at_rest = _peak_rss_kib(server.pid)
        size, block = 96 * 1024 * 1024, os.urandom(1024 * 1024)
        head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        tail = b"\r\n--b--\r\n"
        digest = hashlib.sha256(head)
        for _ in range(size // len(block)):
            digest.update(block)
        digest.update(tail)

        def body():  # type: ignore[no-untyped-def]
            yield head
            for _ in range(size // len(block)):
                yield block
            yield tail

        connection.request(
            "POST", "/", body=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b",
                     "Content-Length": str(len(head) + size + len(tail))},
        )  # fmt: skip
        answer = connection.getresponse().read().decode()
        assert answer == f"{len(head) + size + len(tail)} {digest.hexdigest()}"
        grown_mib = (_peak_rss_kib(server.pid) - at_rest) / 1024
        assert grown_mib < 48, f"the server grew by {grown_mib:.0f} MiB for a 96 MiB body"


async def test_a_broadcast_framed_once_reaches_every_socket_intact() -> None:
    """The same text sent to many sockets is framed once (BroadcastFramingFactory); each
    socket must still get every text exactly, in order, whatever its length or script."""
    import websockets

    with echo_server() as (_, connection):
        port = connection.port
        url = f"ws://127.0.0.1:{port}/"
        sockets = [await websockets.connect(url) for _ in range(3)]
        texts = ["short", "é" * 70_000, "🚓 " * 20, "x" * 125, "y" * 126, "z" * 65_536]
        try:
            for text in texts:
                await sockets[0].send("all:" + text)
                for socket in sockets:
                    assert await asyncio.wait_for(socket.recv(), 10) == text
            # An echo to one socket between broadcasts is framed on its own.
            await sockets[1].send("just me")
            assert await asyncio.wait_for(sockets[1].recv(), 10) == "just me"
            await sockets[2].send("all:again")
            for socket in sockets:
                assert await asyncio.wait_for(socket.recv(), 10) == "again"
        finally:
            for socket in sockets:
                await socket.close()
