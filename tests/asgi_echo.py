"""A minimal ASGI app for server tests: POST answers with the length and SHA-256 of the
body; GET /stream/N sends N MiB of zeros in 256 KiB chunks."""

from __future__ import annotations

import hashlib
from typing import Any


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"].startswith("/stream/"):
        await _stream(int(scope["path"].rsplit("/", 1)[1]), send)
        return
    digest, length = hashlib.sha256(), 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        digest.update(message.get("body", b""))
        length += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = f"{length} {digest.hexdigest()}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _stream(mib: int, send: Any) -> None:
    headers = [(b"content-length", str(mib * 1024 * 1024).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    chunk = bytes(256 * 1024)
    for index in range(mib * 4):
        await send({"type": "http.response.body", "body": chunk, "more_body": index < mib * 4 - 1})
