"""`Client`: SPEC §3's routes and §4's socket as typed methods, one per operation.

Who calls it: the command line (exchange_client.cli) and any script that imports
`exchange_client.Client`. It adds no rule of its own: each method is one request, with the
JSON the server answers. Only `send_message` is retried after a network error or a 5xx,
because the server de-duplicates it by `client_id`; no other POST is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect

from exchange_client.errors import ExchangeError
from exchange_client.http import Transport

JSON = dict[str, Any]


def _slug(slug: str) -> str:
    return quote(slug, safe="")


class Client:
    """One user of one server, signed in with a personal API token."""

    def __init__(self, url: str, token: str) -> None:
        self._http = Transport(url, token)
        self._token = token
        self.root = self._http.root

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- people and channels ---------------------------------------------------------

    def me(self) -> JSON:
        result: JSON = self._http.request("GET", "/me")
        return result

    def channels(self) -> list[JSON]:
        result: list[JSON] = self._http.request("GET", "/channels")
        return result

    def channel(self, slug: str) -> JSON:
        result: JSON = self._http.request("GET", f"/channels/{_slug(slug)}")
        return result

    def members(self, slug: str) -> list[JSON]:
        result: list[JSON] = self._http.request("GET", f"/channels/{_slug(slug)}/members")
        return result

    # --- messages --------------------------------------------------------------------

    def messages(
        self, slug: str, *, after: int | None = None, before: int | None = None, limit: int = 200
    ) -> list[JSON]:
        """Ascending by id: the first `limit` after `after`, else the newest `limit`."""
        params = {"after": after, "before": before, "limit": limit}
        result: list[JSON] = self._http.request(
            "GET", f"/channels/{_slug(slug)}/messages", params=params
        )
        return result

    def messages_after(self, slug: str, after: int) -> Iterator[JSON]:
        """Every message after id `after`, page by page, ascending."""
        while True:
            page = self.messages(slug, after=after)
            yield from page
            if len(page) < 200:
                return
            after = int(page[-1]["id"])

    def send_message(
        self,
        slug: str,
        body: str,
        *,
        client_id: uuid.UUID | None = None,
        parent: int | None = None,
        attachments: list[int] | None = None,
        handling_code: str | None = None,
    ) -> JSON:
        """Post a message; safe to repeat, since the server answers the same `client_id`
        with the same message (so this one POST is retried)."""
        payload: JSON = {"body": body, "client_id": str(client_id or uuid.uuid4())}
        if parent is not None:
            payload["parent"] = parent
        if attachments:
            payload["attachments"] = attachments
        if handling_code is not None:
            payload["handling_code"] = handling_code
        result: JSON = self._http.request(
            "POST", f"/channels/{_slug(slug)}/messages", json=payload, idempotent=True
        )
        return result

    def edit_message(self, message_id: int, body: str) -> JSON:
        result: JSON = self._http.request("PATCH", f"/messages/{message_id}", json={"body": body})
        return result

    def delete_message(self, message_id: int) -> JSON:
        result: JSON = self._http.request("DELETE", f"/messages/{message_id}")
        return result

    # --- keys ------------------------------------------------------------------------

    def my_key(self) -> str | None:
        """The registered `age1…` key, or None when none is registered yet."""
        try:
            answer: JSON = self._http.request("GET", "/keys/me")
        except ExchangeError as error:
            if error.status == 404:
                return None
            raise
        key = answer.get("public_key")
        return str(key) if key else None

    def register_key(self, public_key: str) -> JSON:
        result: JSON = self._http.request("PUT", "/keys/me", json={"public_key": public_key})
        return result

    def backup(self) -> str:
        answer: JSON = self._http.request("GET", "/keys/me/backup")
        return str(answer["backup"])

    def put_backup(self, backup_b64: str) -> JSON:
        result: JSON = self._http.request("PUT", "/keys/me/backup", json={"backup": backup_b64})
        return result

    def epochs(self, slug: str) -> list[JSON]:
        result: list[JSON] = self._http.request("GET", f"/channels/{_slug(slug)}/epochs")
        return result

    def start_epoch(self, slug: str, payload: JSON) -> JSON:
        result: JSON = self._http.request("POST", f"/channels/{_slug(slug)}/epochs", json=payload)
        return result

    def epoch_share(self, slug: str, number: int) -> str:
        """The caller's share of epoch `number` (base64 age file); 404 when none yet."""
        answer: JSON = self._http.request("GET", f"/channels/{_slug(slug)}/epochs/{number}/share")
        return str(answer["ciphertext"])

    def pending_shares(self, slug: str) -> list[JSON]:
        result: list[JSON] = self._http.request("GET", f"/channels/{_slug(slug)}/shares/pending")
        return result

    def deliver_shares(self, slug: str, shares: list[JSON]) -> Any:
        return self._http.request(
            "POST", f"/channels/{_slug(slug)}/shares", json={"shares": shares}
        )

    # --- attachments -----------------------------------------------------------------

    def upload_attachment(
        self, slug: str, body: Iterable[bytes], *, content_type: str, length: int
    ) -> JSON:
        """POST a multipart body built by exchange_client.attachments (streamed)."""
        result: JSON = self._http.post_stream(
            f"/channels/{_slug(slug)}/attachments", body, content_type=content_type, length=length
        )
        return result

    def attachment_meta(self, attachment_id: int) -> JSON:
        result: JSON = self._http.request("GET", f"/attachments/{attachment_id}/meta")
        return result

    def attachment_stream(
        self, attachment_id: int
    ) -> AbstractContextManager[tuple[int | None, Iterator[bytes]]]:
        """The stored age file as (length, byte iterator), never held whole."""
        return self._http.get_stream(f"/attachments/{attachment_id}")

    # --- documents -------------------------------------------------------------------

    def documents(self, slug: str, **filters: Any) -> list[JSON]:
        result: list[JSON] = self._http.request(
            "GET", f"/channels/{_slug(slug)}/documents", params=filters
        )
        return result

    def library(self, **filters: Any) -> list[JSON]:
        """`GET /documents`: the library across every channel the caller may read."""
        result: list[JSON] = self._http.request("GET", "/documents", params=filters)
        return result

    def document(self, document_id: int) -> JSON:
        result: JSON = self._http.request("GET", f"/documents/{document_id}")
        return result

    def add_document(self, slug: str, payload: JSON) -> JSON:
        result: JSON = self._http.request(
            "POST", f"/channels/{_slug(slug)}/documents", json=payload
        )
        return result

    def add_version(self, document_id: int, attachment: int, note: str = "") -> JSON:
        payload = {"attachment": attachment, "note": note}
        result: JSON = self._http.request(
            "POST", f"/documents/{document_id}/versions", json=payload
        )
        return result

    # --- the socket ------------------------------------------------------------------

    def socket(self) -> connect:
        """`async with client.socket() as ws:` — SPEC §4's socket, bearer-authenticated."""
        ws_root = "ws" + self.root.removeprefix("http")
        return connect(
            f"{ws_root}/ws/v1/",
            additional_headers={"Authorization": f"Bearer {self._token}"},
            open_timeout=10,
            max_size=2**20,
        )


__all__ = ["JSON", "Client", "ClientConnection"]
