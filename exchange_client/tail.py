"""`tail`: a channel's messages, each printed once, in `seq` order, across reconnects.

The promise (SPEC §8) is kept on the client's side by three things: the position (the id
and seq of the last message printed, saved after each one, per channel, in the config
directory), de-duplication by seq (a message at or below the position was printed), and
gap repair (a seq past position + 1 means broadcasts were dropped: the missing ones are
fetched over HTTP, by id, before anything later is printed). Reconnects back off from half
a second to ten; the socket's `subscribe` with `after` replays what came meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from exchange_client.client import JSON, Client
from exchange_client.config import Store
from exchange_client.errors import ExchangeError

NEWEST_FIRST_LOOK = 10  # like tail(1): the newest ten, when there is no position
PAGE = 200
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT while a message is printed and its position saved, then act
    on them: a tail stopped between the two would print that message again on resume."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {
        number: signal.signal(number, lambda signum, frame: received.append(signum))
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for signum in received[:1]:
            signal.raise_signal(signum)


def format_message(message: JSON) -> str:
    """One message as a human reads it: time, seq, author@institution, then the body
    (later lines indented), attachments by id."""
    author = message.get("author") or {}
    institution = (author.get("institution") or {}).get("slug", "")
    body = message.get("body")
    text = "(deleted)" if body is None else str(body).replace("\n", "\n    ")
    extra = ""
    if message.get("attachments"):
        extra = " [attachments: " + ", ".join(str(a["id"]) for a in message["attachments"]) + "]"
    return (
        f"{message.get('created_at', '')} #{message.get('seq')} "
        f"{author.get('username', '?')}@{institution}: {text}{extra}"
    )


class Tail:
    def __init__(
        self,
        client: Client,
        store: Store,
        channel: str,
        *,
        after: int | None,
        emit: Callable[[JSON], None],
    ) -> None:
        self.client = client
        self.store = store
        self.channel = channel
        self._emit = emit
        self.last_id: int | None = after
        self.last_seq: int | None = None
        if after is None:
            position = store.tail_position(channel)
            if position is not None:
                self.last_id, self.last_seq = position["id"], position["seq"]

    # --- what is printed -----------------------------------------------------------

    def _print(self, message: JSON) -> None:
        with signals_deferred():
            self._emit(message)
            self.last_id, self.last_seq = int(message["id"]), int(message["seq"])
            self.store.save_tail_position(self.channel, self.last_id, self.last_seq)

    def offer(self, messages: list[JSON]) -> None:
        """Print what is new among `messages`, in seq order, repairing any gap first."""
        for message in sorted(messages, key=lambda m: int(m["seq"])):
            seq = int(message["seq"])
            if self.last_seq is not None and seq <= self.last_seq:
                continue  # printed already
            if self.last_seq is not None and seq > self.last_seq + 1:
                self.repair()
                if self.last_seq is not None and seq <= self.last_seq:
                    continue
            self._print(message)

    def repair(self) -> None:
        """Fetch over HTTP what came after the position, and print it in seq order."""
        fetched = list(self.client.messages_after(self.channel, self.last_id or 0))
        for message in sorted(fetched, key=lambda m: int(m["seq"])):
            if self.last_seq is None or int(message["seq"]) > self.last_seq:
                self._print(message)

    # --- the two phases ------------------------------------------------------------

    def backlog(self) -> None:
        """What came since the position (or the newest few, without one), over HTTP."""
        self.client.channel(self.channel)  # a clear 403/404 before anything else
        if self.last_id is None:
            newest = self.client.messages(self.channel, limit=NEWEST_FIRST_LOOK)
            self.offer(newest)
            if self.last_id is None:
                self.last_id, self.last_seq = 0, 0
            return
        self.repair()

    async def follow(self) -> None:
        """New messages as they arrive, forever; reconnects with backoff when the server
        or the network goes away. Returns only by raising ExchangeError (access lost)."""
        delay = FIRST_BACKOFF
        while True:
            try:
                await self._session()
            except (
                OSError,
                ConnectionClosed,
                TimeoutError,
                InvalidURI,
                asyncio.IncompleteReadError,
            ):
                pass
            except InvalidStatus as error:
                status = error.response.status_code
                if status in (401, 403):
                    raise ExchangeError(
                        "unauthenticated", "the server refused the socket: sign in again (login)"
                    ) from None
            except ExchangeError as error:
                if error.code != "network":
                    raise
            await asyncio.sleep(delay)
            delay = min(MAX_BACKOFF, delay * 2)
            if self._connected:
                delay = FIRST_BACKOFF
                self._connected = False

    _connected = False

    async def _session(self) -> None:
        async with self.client.socket() as ws:
            frame: dict[str, Any] = {"type": "subscribe", "channel": self.channel}
            if self.last_id:
                frame["after"] = self.last_id
            await ws.send(json.dumps(frame))
            async for raw in ws:
                data = json.loads(raw)
                kind = data.get("type")
                if kind == "subscribed" and data.get("channel") == self.channel:
                    self._connected = True
                    messages = data.get("messages") or []
                    self.offer(messages)
                    if len(messages) >= PAGE:
                        self.repair()
                elif kind == "message.new" and data["message"].get("channel") in (
                    None,
                    self.channel,
                ):
                    self.offer([data["message"]])
                elif kind == "channel.revoked" and data.get("channel") == self.channel:
                    raise ExchangeError("forbidden", f"access to {self.channel} was revoked")
                elif kind == "error" and data.get("channel") == self.channel:
                    raise ExchangeError(
                        str(data.get("code")), str(data.get("message") or self.channel)
                    )
