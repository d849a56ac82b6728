"""The one file that knows httpx: requests, retries, errors, streamed bodies.

Why one file: the HTTP library is a choice that may change; everything else in the client
speaks `Transport`. Why retries live here and only for idempotent requests: a GET, PUT or
DELETE, or a POST the server de-duplicates (a message with a `client_id`, SPEC §3), can be
sent again after a network error or a 5xx without doing anything twice; any other POST may
have been applied before the connection broke, so it is never repeated.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from exchange_client.errors import ExchangeError

API_PREFIX = "/api/v1"
ATTEMPTS = 5
FIRST_DELAY = 0.5  # seconds, doubled each time: 0.5, 1, 2, 4
MAX_DELAY = 8.0
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def server_root(url: str) -> str:
    """The server's URL as the user may type it (with or without `/api/v1`, a trailing
    slash), reduced to scheme, host and any path prefix."""
    root = url.strip().rstrip("/")
    if root.endswith(API_PREFIX):
        root = root[: -len(API_PREFIX)]
    if not root.startswith(("http://", "https://")):
        raise ExchangeError("usage", f"the server URL must start with http:// or https://: {url}")
    return root


def error_from(response: httpx.Response) -> ExchangeError:
    """SPEC §3's error body as an ExchangeError; a body of another shape (a proxy's HTML
    page) becomes `http_<status>` with its reason phrase."""
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return ExchangeError(
            f"http_{response.status_code}",
            response.reason_phrase or "unexpected answer",
            status=response.status_code,
        )
    detail = {k: v for k, v in error.items() if k not in ("code", "message")}
    return ExchangeError(code, message, status=response.status_code, detail=detail)


def _network_error(error: httpx.HTTPError) -> ExchangeError:
    return ExchangeError(
        "network", f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    )


def _retry_delay(attempt: int, response: httpx.Response | None) -> float:
    if response is not None and response.status_code == 429:
        try:
            return min(MAX_DELAY, float(response.headers.get("Retry-After", "1")))
        except ValueError:
            return 1.0
    return min(MAX_DELAY, FIRST_DELAY * 2**attempt)


class Transport:
    """HTTP to one server with one bearer token (or none, for `/healthz`)."""

    def __init__(self, root: str, token: str | None) -> None:
        self.root = server_root(root)
        headers = {"Accept": "application/json", "User-Agent": "exchange-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(base_url=self.root, headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one API request and return its JSON (None for an empty body). Retries with
        backoff on network errors, 5xx and 429 when the request is idempotent (by default
        every method but POST); raises ExchangeError otherwise."""
        retry = method != "POST" if idempotent is None else idempotent
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self._client.request(
                    method, API_PREFIX + path, json=json, params=clean or None
                )
            except httpx.HTTPError as error:
                if not retry or attempt + 1 >= ATTEMPTS:
                    raise _network_error(error) from None
            else:
                transient = response.status_code >= 500 or response.status_code == 429
                if not transient or not retry or attempt + 1 >= ATTEMPTS:
                    return self._parse(response)
            time.sleep(_retry_delay(attempt, response))
            attempt += 1

    @staticmethod
    def _parse(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise error_from(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ExchangeError("bad_answer", "the server's answer is not JSON") from None

    def post_stream(
        self, path: str, body: Iterable[bytes], *, content_type: str, length: int
    ) -> Any:
        """POST a body produced on the fly, with its exact length announced up front (no
        chunked encoding: the server and proxies know the size before reading). Never
        retried: the body is consumed once, and the POST is not idempotent."""
        headers = {"Content-Type": content_type, "Content-Length": str(length)}
        try:
            response = self._client.post(
                API_PREFIX + path, content=iter(body), headers=headers, timeout=None
            )
        except httpx.HTTPError as error:
            raise _network_error(error) from None
        return self._parse(response)

    @contextmanager
    def get_stream(self, path: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
        """GET a binary body without holding it: yields its Content-Length (None when not
        given) and an iterator over its bytes. Opening is retried like any GET; a body
        broken off midway is not (the caller's temporary file is discarded instead)."""
        attempt = 0
        while True:
            try:
                with self._client.stream("GET", API_PREFIX + path, timeout=None) as response:
                    transient = response.status_code >= 500 or response.status_code == 429
                    if transient and attempt + 1 < ATTEMPTS:
                        delay = _retry_delay(attempt, response)
                    else:
                        if response.status_code >= 400:
                            response.read()
                            raise error_from(response)
                        header = response.headers.get("Content-Length")
                        length = int(header) if header and header.isdigit() else None
                        yield length, self._bytes(response)
                        return
            except httpx.HTTPError as error:
                if attempt + 1 >= ATTEMPTS:
                    raise _network_error(error) from None
                delay = _retry_delay(attempt, None)
            time.sleep(delay)
            attempt += 1

    @staticmethod
    def _bytes(response: httpx.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_bytes()
        except httpx.HTTPError as error:
            raise _network_error(error) from None
