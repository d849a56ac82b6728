"""A minimal ASGI app for server tests: POST answers with the length and SHA-256 of the
body; GET /stream/N sends N MiB of zeros in 256 KiB chunks; a WebSocket text
"all:<text>" is sent, as one and the same str object, to every open socket, and any
other text is echoed to its sender."""

from __future__ import annotations

import hashlib
from typing import Any

_sockets: list[Any] = []


async def _websocket(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            _sockets.append(send)
        elif message["type"] == "websocket.disconnect":
            _sockets.remove(send)
            return
        elif message.get("text", "").startswith("all:"):
            text = message["text"][4:]
            for other in list(_sockets):
                await other({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "text": message.get("text", "")})


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await _websocket(receive, send)
        return
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
