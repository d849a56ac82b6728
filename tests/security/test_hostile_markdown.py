"""Stored XSS through message bodies: every payload of corpus/hostile_markdown.txt, sent as
a user would send it (the HTTP API, a WebSocket frame), comes back with an inert `html`
(SPEC §4), checked by tests/inert.py with a real HTML5 parser."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from channels_app.models import Message
from exchange.asgi import application
from tests import factories
from tests.conftest import World, api_client
from tests.inert import assert_inert, inert_problems
from tests.security.corpus import hostile_markdown

CORPUS = hostile_markdown()
# Bodies holding a NUL are refused outright (a database text column cannot hold one).
REFUSED = [p for p in CORPUS if "\x00" in p]
STORED = [p for p in CORPUS if "\x00" not in p]


def test_the_corpus_covers_every_family_of_attack() -> None:
    """A guard on the data file: an edit that drops a family of payloads fails here."""
    text = "\n".join(CORPUS).lower()
    for needle in [
        "<script", "onerror", "javascript:", "vbscript:", "data:", "&#106;", "&#x6a;",
        "%6a%61", "\t", "\x01", "<javascript:", "]: javascript:", "![", "<svg", "<iframe",
        "<style", "<!--", "<![cdata[", "<math", "xlink:href", "formaction", "\u202e",
    ]:  # fmt: skip
        assert needle in text, needle
    assert len(CORPUS) >= 100


def test_the_inert_checker_catches_what_it_must() -> None:
    """The checker itself can fail: raw payloads, parsed as a browser would, are caught."""
    caught = [p for p in CORPUS if "<script>" in p and inert_problems(p)]
    assert caught
    for live in [
        '<a href="java&#x09;script:x" rel="noopener noreferrer nofollow">x</a>',
        "<svg><a xlink:href='javascript:x'>x</a></svg>",
        '<p onclick="x">p</p>',
        '<a href="https://example.org">no rel</a>',
        '<img src="https://tracker.invalid/x.png">',
        "<math><mtext><table><mglyph><style><img src=x onerror=x>",
    ]:
        assert inert_problems(live), live


@pytest.mark.django_db
@pytest.mark.parametrize("payload", STORED, ids=range(len(STORED)))
def test_stored_xss_through_the_http_api_is_inert(world: World, payload: str) -> None:
    client = api_client(world.member)
    response = client.post(
        "/api/v1/channels/ops/messages",
        {"body": payload, "client_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert_inert(response.json()["html"])
    listed = client.get("/api/v1/channels/ops/messages").json()
    assert [m["body"] for m in listed] == [payload]
    assert_inert(listed[0]["html"])
    # An edit renders again: it must be just as inert.
    edited = client.patch(
        f"/api/v1/messages/{listed[0]['id']}",
        {"body": payload + "\n\n" + payload},
        content_type="application/json",
    )
    assert edited.status_code == 200, edited.content
    assert_inert(edited.json()["html"])


@pytest.mark.django_db
@pytest.mark.parametrize("payload", REFUSED, ids=range(len(REFUSED)))
def test_a_body_with_a_nul_is_refused_and_stores_nothing(world: World, payload: str) -> None:
    response = api_client(world.member).post(
        "/api/v1/channels/ops/messages",
        {"body": payload, "client_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == "body"
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_stored_xss_through_websocket_frames_is_inert(world: World) -> None:
    """The whole corpus over one socket: the sender's ack and the broadcast each carry an
    inert `html`, and a subscriber's backlog on reconnecting does too."""
    token = await database_sync_to_async(factories.token_for)(world.member)
    headers = [(b"authorization", f"Bearer {token}".encode())]
    sender = WebsocketCommunicator(application, "/ws/v1/", headers=headers)
    assert (await sender.connect(timeout=5))[0]
    try:
        await sender.send_json_to({"type": "subscribe", "channel": "ops"})
        assert (await sender.receive_json_from(timeout=5))["type"] == "subscribed"
        for payload in CORPUS:
            client_id = str(uuid.uuid4())
            await sender.send_json_to(
                {"type": "message.send", "channel": "ops", "client_id": client_id, "body": payload}
            )
            frames: list[dict[str, Any]] = [await sender.receive_json_from(timeout=5)]
            if "\x00" in payload:
                assert frames[0]["type"] == "error" and frames[0]["field"] == "body", payload
                continue
            frames.append(await sender.receive_json_from(timeout=5))
            assert [f["type"] for f in frames] == ["message.ack", "message.new"], payload
            for frame in frames:
                assert frame["message"]["body"] == payload
                assert_inert(frame["message"]["html"])
        await sender.send_json_to({"type": "subscribe", "channel": "ops", "after": 0})
        backlog = (await sender.receive_json_from(timeout=5))["messages"]
        assert [m["body"] for m in backlog] == STORED
        for message in backlog:
            assert_inert(message["html"])
    finally:
        await sender.disconnect()
