"""Which requests the client repeats: against a real HTTP server on the loopback that
fails on purpose (a 503, or a connection closed without an answer), counting what
reaches it. Idempotent requests and a message send (de-duplicated by client_id) are
retried; any other POST never is."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exchange_client import http
from exchange_client.client import Client
from exchange_client.errors import ExchangeError


class Flaky(BaseHTTPRequestHandler):
    """Fails the first `failures` requests of each path (503 with SPEC's error body, or a
    dropped connection), then answers 200 with what it received."""

    failures = 2
    drop = False
    seen: dict[str, int] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        count = self.seen[self.path] = self.seen.get(self.path, 0) + 1
        if count <= self.failures:
            if self.drop:
                self.close_connection = True
                self.connection.close()
                return
            self._json(503, {"error": {"code": "unavailable", "message": "try later"}})
            return
        self._json(200, {"received": json.loads(body) if body else None})

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, type[Flaky]]]:
    monkeypatch.setattr(http, "FIRST_DELAY", 0.01)
    handler = type("Handler", (Flaky,), {"seen": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_get_and_a_send_are_retried_through_5xx(flaky: tuple[str, type[Flaky]]) -> None:
    url, handler = flaky
    with Client(url, "token") as client:
        assert client.channel("ops")["received"] is None
        sent = client.send_message("ops", "hello", client_id=uuid.UUID(int=7))
    assert sent["received"]["client_id"] == str(uuid.UUID(int=7))
    assert handler.seen == {"/api/v1/channels/ops": 3, "/api/v1/channels/ops/messages": 3}


def test_a_send_is_retried_when_the_connection_drops(flaky: tuple[str, type[Flaky]]) -> None:
    url, handler = flaky
    handler.drop = True
    with Client(url, "token") as client:
        assert client.send_message("ops", "hello")["received"]["body"] == "hello"
    assert handler.seen == {"/api/v1/channels/ops/messages": 3}


def test_other_posts_are_sent_once(flaky: tuple[str, type[Flaky]]) -> None:
    url, handler = flaky
    with Client(url, "token") as client, pytest.raises(ExchangeError) as raised:
        client.deliver_shares("ops", [])
    assert (raised.value.code, raised.value.message, raised.value.status) == (
        "unavailable",
        "try later",
        503,
    )
    assert handler.seen == {"/api/v1/channels/ops/shares": 1}


def test_retries_stop_after_a_few_attempts(flaky: tuple[str, type[Flaky]]) -> None:
    url, handler = flaky
    handler.failures = 100
    with Client(url, "token") as client, pytest.raises(ExchangeError):
        client.me()
    assert handler.seen == {"/api/v1/me": http.ATTEMPTS}
