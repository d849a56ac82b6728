"""The one exception the client raises, so the command line has one thing to catch.

Server errors carry SPEC §3's `{"error": {"code", "message"}}`; failures on this side
(network, files, keys, decryption) carry a code of the client's own (`network`, `file`,
`config`, `key`, `decrypt`, `integrity`), so every failure prints as `error: code: message`.
"""

from __future__ import annotations

from typing import Any


class ExchangeError(Exception):
    """A failure with SPEC's error shape. `status` is the HTTP status, or None when the
    server was never reached or the failure is the client's own; `detail` holds the rest
    of the server's error object (e.g. `missing` and `unexpected` of a 409 on epochs)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail or {}
