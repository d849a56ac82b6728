"""daphne, with request bodies kept out of memory.

An encrypted attachment may be a gigabyte; daphne, as it is, would hold it in memory
twice over:

- Twisted parses every `multipart/form-data` POST body into `request.args` before
  daphne sees the request (email.parser over the whole body: a 64 MiB upload peaked at
  0.9 GiB). daphne never reads `args`; Twisted's own `parsePOSTFormSubmission=False`
  switches that parsing off.
- daphne then puts every chunk of the body into the application's input queue at once
  (django/daphne#483, open since 2023). Here that queue keeps body chunks in a
  SpooledTemporaryFile (memory up to SPOOL_MEMORY, then disk) and gives them back one
  read at a time.

And on the way out: daphne writes each response chunk to the socket's buffer without
waiting for the client, so a slow reader of a large download lets the buffer grow with
the file. Here a streamed response registers a Twisted push producer on its request, and
the application's next `send` waits while Twisted says the socket's buffer is full.

And on the way out of a broadcast: a message sent to a channel's 200 subscribers in this
process is the same text 200 times (channels_app.messages.events encodes it once). autobahn frames
each send anew; here the WebSocket factory frames a text once and hands the same prepared
frame to every socket it goes to (autobahn's `prepareMessage`, made for broadcasting).

And WebSocket messages are bounded by the transport, below daphne's 1 MiB default
(daphne >= 4.2.2, CVE-2026-44545): autobahn fails a frame whose header announces more
than WS_MAX_MESSAGE_BYTES (1009, by dropping the connection) as soon as the header is
read, before any of its payload is buffered. Between the consumer's own 64 KiB limit and this
one, a frame still gets a `too_large` error frame and the socket stays open.
`--websocket-max-message-size` and `--websocket-max-frame-size` still override it.

And a request must arrive in bounded time and size, before the application sees it
(Twisted reads the whole body first, and only drops a connection silent for a minute):
a body announced (Content-Length) or sent (chunked) larger than the largest any route
takes (`max_body_bytes`: an upload of EXCHANGE_MAX_UPLOAD_MB with its meta) is refused
with 413 at once, before any of it is read; a request whose headers take longer than
REQUEST_HEADERS_SECONDS, or whose body arrives slower than REQUEST_BODY_SECONDS plus
REQUEST_MIN_KB_PER_SECOND of its length, gets 408. Both answers are SPEC's JSON error,
written on the connection by hand (as Twisted answers a malformed request), which is
then closed.

Everything else is daphne as it is, started with the same arguments:
`python -m exchange.server -b 127.0.0.1 -p 8000 exchange.asgi:application`.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import weakref
from http import HTTPStatus
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings
from twisted.internet.base import DelayedCall
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

SPOOL_MEMORY = 1024 * 1024
# Four times the consumer's MAX_FRAME_BYTES: a 64 KiB frame of characters that each take
# several bytes in UTF-8 still reaches the consumer, which answers it with an error frame.
WS_MAX_MESSAGE_BYTES = 256 * 1024
READ_SIZE = 256 * 1024
# Room in a request body beyond the attachment itself: its encrypted meta (64 KiB at most,
# channels_app.attachments.services) and the form's framing.
BODY_OVERHEAD_BYTES = 1024 * 1024


def max_body_bytes() -> int:
    """The largest request body any route takes: an upload with its meta and framing.
    (Each route then applies its own, smaller limit: a JSON body is 1 MiB at most.)"""
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024 + BODY_OVERHEAD_BYTES


def error_bytes(status: HTTPStatus, code: str, message: str) -> bytes:
    """A whole HTTP response carrying SPEC's JSON error, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class _SpoolMark:
    """Stands in the queue where the spooled body is, keeping events in their order."""


_MARK = _SpoolMark()


class BodySpoolingQueue(asyncio.Queue[Any]):
    """An asyncio.Queue whose `http.request` body chunks live in a temporary file.

    It works through the queue's documented subclass hooks (`_put`, `_get`), so the
    waiting and waking of asyncio.Queue stay untouched. Only multi-chunk bodies are
    spooled; a body that fits in one message passes through as usual.
    """

    _spool: tempfile.SpooledTemporaryFile[bytes] | None = None
    _write_pos = 0
    _read_pos = 0
    _complete = False
    _final_sent = False

    def _put(self, item: Any) -> None:
        is_body = isinstance(item, dict) and item.get("type") == "http.request"
        if not is_body or (self._spool is None and not item.get("more_body")):
            self._queue.append(item)  # type: ignore[attr-defined]
            return
        if self._spool is None:
            self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
            self._queue.append(_MARK)  # type: ignore[attr-defined]
        self._spool.seek(self._write_pos)
        self._spool.write(item.get("body", b""))
        self._write_pos = self._spool.tell()
        if not item.get("more_body"):
            self._complete = True

    def _get(self) -> Any:
        item = self._queue.popleft()  # type: ignore[attr-defined]
        if item is not _MARK:
            return item
        assert self._spool is not None  # noqa: S101  (the mark is only queued with a spool)
        self._spool.seek(self._read_pos)
        body = self._spool.read(min(READ_SIZE, self._write_pos - self._read_pos))
        self._read_pos += len(body)
        more = not (self._complete and self._read_pos == self._write_pos)
        if more:
            self._queue.appendleft(_MARK)  # type: ignore[attr-defined]
        else:
            self._spool.close()
        return {"type": "http.request", "body": body, "more_body": more}


def _reactor() -> Any:
    """daphne's asyncio reactor, installed by the time a request arrives (imported here,
    not at the top, so that importing this module never installs Twisted's default)."""
    from twisted.internet import reactor

    return reactor


class UnparsedBodyRequest(WebRequest):
    """daphne's request, without Twisted's in-memory parsing of form bodies, and bounded
    in how large and how slow it may arrive (see the module's docstring).

    Twisted makes the request object when the request line arrives, tells it the body's
    length once the headers are in (`gotLength`), hands it the body in chunks, and calls
    `requestReceived` when all of it is there: the deadline runs over those steps.
    """

    _refused = False
    _body_bytes = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)
        self._deadline: DelayedCall | None = None
        self._body_started = 0.0
        seconds = float(settings.REQUEST_HEADERS_SECONDS)
        self._arrive_within(seconds, f"its headers took over {seconds:.0f} s")

    def _arrive_within(self, seconds: float, too_slow: str) -> None:
        self._stop_deadline()
        self._deadline = _reactor().callLater(
            seconds,
            self._refuse,
            HTTPStatus.REQUEST_TIMEOUT,
            "timeout",
            f"The request arrived too slowly: {too_slow}.",
        )

    def _body_allowance(self) -> float:
        """Seconds from the end of the headers by which the body received so far had to
        arrive: a grace of REQUEST_BODY_SECONDS, then REQUEST_MIN_KB_PER_SECOND on
        average (as Apache's mod_reqtimeout MinRate). A silent body is cut off after the
        grace; a slow, steady one goes on."""
        rate = int(settings.REQUEST_MIN_KB_PER_SECOND) * 1024
        return float(settings.REQUEST_BODY_SECONDS) + self._body_bytes / rate

    def _stop_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _refuse(self, status: HTTPStatus, code: str, message: str) -> None:
        """Answer before the application sees the request, and close the connection."""
        if self._refused:
            return
        self._refused = True
        self._stop_deadline()
        transport = self.channel.transport
        transport.write(error_bytes(status, code, message))
        transport.loseConnection()

    def _too_large(self) -> None:
        self._refuse(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "too_large",
            f"A request body is at most {settings.MAX_UPLOAD_MB} MB (an attachment) with its meta.",
        )

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > max_body_bytes():
            # No "100 Continue" after the refusal: Twisted sends it next if asked to.
            self.requestHeaders.removeHeader(b"Expect")
            super().gotLength(0)
            self._too_large()
            return
        super().gotLength(length)
        self._body_started = _reactor().seconds()
        rate = settings.REQUEST_MIN_KB_PER_SECOND
        self._arrive_within(self._body_allowance(), f"its body came slower than {rate} KB/s")

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._body_bytes += len(data)
        if self._body_bytes > max_body_bytes():  # a chunked body has no announced length
            self._too_large()
            return
        super().handleContentChunk(data)
        if self._deadline is not None and self._deadline.active():
            due = self._body_started + self._body_allowance()
            self._deadline.reset(max(0.0, due - self._deadline.seconds()))

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return  # answered already; what was left in the buffer is not served
        self._stop_deadline()
        super().requestReceived(command, path, version)

    def connectionLost(self, reason: Any) -> None:
        self._stop_deadline()
        super().connectionLost(reason)


class UnparsedBodyHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = UnparsedBodyRequest
        return protocol


@implementer(IPushProducer)
class _Backpressure:
    """Told by Twisted when the client's socket buffer fills (pause) and drains (resume)."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()

    def pauseProducing(self) -> None:
        self.writable.clear()

    def resumeProducing(self) -> None:
        self.writable.set()

    def stopProducing(self) -> None:
        self.writable.set()  # the client went away: let the sender run to its end


# The close code for a socket whose client stopped reading (SPEC §4 extension,
# docs/architecture.md): reconnect, and resume with `after`.
CLOSE_SEND_QUEUE_FULL = 4009


@implementer(IPushProducer)
class _SendQueue:
    """Told by Twisted when a socket's write buffer fills (pause: over its 64 KiB) and
    when it has drained (resume); counts what is handed to the socket in between."""

    def __init__(self) -> None:
        self.paused = False
        self.queued = 0

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.queued = 0

    def stopProducing(self) -> None:
        self.paused = False


class BroadcastFramingProtocol(WebSocketProtocol):
    """Sends text through the factory's prepared frames; everything else as daphne does.

    And bounds what waits for a client that stopped reading: autobahn hands every frame
    to the socket's buffer, which would grow with each broadcast for as long as the
    connection lives. Once the buffer is full, the text handed over is counted; past
    EXCHANGE_WS_SEND_QUEUE_KB the socket is closed with 4009 and frames for it are
    dropped. The client reconnects and resumes with `after`, so nothing is lost
    (SPEC §8); a client that reads, however slowly, drains the buffer and starts again
    from zero.
    """

    _send_queue: _SendQueue | None = None
    _overflowed = False

    def onOpen(self) -> None:
        super().onOpen()
        self._send_queue = _SendQueue()
        # The HTTP channel that upgraded this connection is still registered as the
        # transport's producer; it serves nothing on it any more.
        if getattr(self.transport, "producer", None) is not None:
            self.transport.unregisterProducer()
        self.transport.registerProducer(self._send_queue, True)

    def _over_cap(self, size: int) -> bool:
        queue = self._send_queue
        if self._overflowed:
            return True
        if queue is None or not queue.paused:
            return False
        queue.queued += size
        if queue.queued <= int(settings.WS_SEND_QUEUE_KB) * 1024:
            return False
        self._overflowed = True
        self.sendClose(code=CLOSE_SEND_QUEUE_FULL, reason="send queue full: resume with after")
        return True

    def handle_reply(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if (
            message.get("type") != "websocket.send"
            or not isinstance(text, str)
            or message.get("bytes")
            or self.state != self.STATE_OPEN
        ):
            return super().handle_reply(message)
        if self._over_cap(len(text)):  # characters: cheap, and at least the bytes' count
            return None
        self.sendPreparedMessage(self.factory.prepared(text))
        return None


class BroadcastFramingFactory(WebSocketFactory):
    """Frames each text once while it is being sent to one socket after another.

    The same `str` object going to many sockets in a row (a broadcast handed on by
    exchange.kernel.fanout) is framed on its first send and reused, recognised by identity; the
    factory holds the text, so its identity cannot be reused meanwhile. Any other text
    is simply framed, as autobahn's sendMessage would.
    """

    protocol = BroadcastFramingProtocol
    _last: tuple[str, Any] | None = None

    def prepared(self, text: str) -> Any:
        last = self._last
        if last is not None and last[0] is text:
            return last[1]
        prepared = self.prepareMessage(text.encode("utf8"))
        self._last = (text, prepared)
        return prepared


class ExchangeServer(Server):
    _backpressure: weakref.WeakKeyDictionary[Any, _Backpressure]

    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        if not isinstance(protocol, WebRequest) or message.get("type") != "http.response.body":
            return await super().handle_reply(protocol, message)
        if not hasattr(self, "_backpressure"):
            self._backpressure = weakref.WeakKeyDictionary()
        more = bool(message.get("more_body", False))
        producer = self._backpressure.get(protocol)
        if more and producer is None and protocol.producer is None:
            producer = self._backpressure[protocol] = _Backpressure()
            protocol.registerProducer(producer, True)
        elif not more and producer is not None:
            protocol.unregisterProducer()
            del self._backpressure[protocol]
            producer = None
        await super().handle_reply(protocol, message)
        if producer is not None:
            await producer.writable.wait()

    @property
    def http_factory(self) -> HTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        # Server.run() makes daphne's factory; ours is built the same way, for the server.
        self._http_factory = UnparsedBodyHTTPFactory(factory.server)

    @property
    def ws_factory(self) -> WebSocketFactory:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: WebSocketFactory) -> None:
        # Server.run() makes daphne's factory, then sets its options on ours.
        self._ws_factory = BroadcastFramingFactory(factory.server_class, server=factory.server)

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        queue = super().create_application(protocol, scope)
        if queue is not None and scope.get("type") == "http":
            # The application already holds `queue.get`; changing the class of this one
            # queue object (same layout, new hooks) is the only way in without copying
            # daphne's create_application.
            queue.__class__ = BodySpoolingQueue
        return queue


class ExchangeCommandLine(CommandLineInterface):
    description = "Exchange's daphne: HTTP and WebSocket, request bodies spooled to disk"
    server_class = ExchangeServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(
            websocket_max_message_size=WS_MAX_MESSAGE_BYTES,
            websocket_max_frame_size=WS_MAX_MESSAGE_BYTES,
        )


if __name__ == "__main__":
    import os
    import sys

    sys.setswitchinterval(float(os.environ.get("EXCHANGE_SWITCH_INTERVAL", "0.005")))
    ExchangeCommandLine.entrypoint()
