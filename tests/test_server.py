"""Exchange's daphne keeps request bodies out of memory (daphne#483)."""

from __future__ import annotations

import asyncio
import hashlib
import os

from exchange.server import BodySpoolingQueue, ExchangeServer


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
