"""The WebSocket endpoint of SPEC §4, driven in-process through exchange.asgi.application.

Every socket goes through the real router, origin check and authentication middleware;
every test commits its data (`transaction=True`), because the consumer reads the database
from its own thread, and disconnects every socket it opened (a crash in the consumer is
re-raised there).

Every frame a test receives is checked against its definition in
channels_app.socket.server_frames, strictly (tests/conftest.py): a frame that drifts from
it fails the test that received it.

The in-memory channel layer queues a socket's events in one FIFO, so "nothing arrived
from channel A" is shown deterministically: post in A, then in a channel B the socket
still follows, and check that B's frame is the next one.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.utils import timezone

from channels_app.messages import events
from channels_app.models import Channel, Message
from channels_app.socket.consumer import ChannelSocket
from channels_app.socket.server_frames import check_server_frame
from exchange.asgi import application
from exchange.kernel.events import BroadcastFrame
from permissions.membership.services import admission_remove, admission_set, ban_create
from permissions.models import ApiToken, User
from permissions.people.services import user_set_active
from permissions.sign_in.tokens import token_revoke
from tests import factories
from tests.conftest import World, api_client
from tests.signing_in import session_cookie_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")
Frame = dict[str, Any]
Headers = list[tuple[bytes, bytes]]

# SPEC §4's message object, plus `deleted` (docs/architecture.md: the tombstone flag) and
# `evaluation` (SPEC §2's 4x4 evaluation, null when none).
MESSAGE_KEYS = {
    "id", "seq", "channel", "author", "body", "html", "parent", "attachments",
    "handling_code", "created_at", "edited_at", "deleted", "evaluation",
}  # fmt: skip
AUTHOR_KEYS = {"username", "display_name", "institution"}
INSTITUTION_KEYS = {"slug", "name", "country"}

sync = database_sync_to_async


@pytest.fixture(autouse=True)
async def empty_layer() -> AsyncIterator[None]:
    """The in-memory layer outlives a test's event loop: start and end each test empty."""
    layer = get_channel_layer()
    await layer.flush()
    yield
    await layer.flush()


# --- helpers -------------------------------------------------------------------------


def bearer(user: User) -> Headers:
    return [(b"authorization", f"Bearer {factories.token_for(user)}".encode())]


def session_cookie(user: User) -> bytes:
    return session_cookie_of(signed_in(user))


async def handshake(headers: Headers) -> tuple[bool, WebsocketCommunicator]:
    communicator = WebsocketCommunicator(application, "/ws/v1/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return connected, communicator


@asynccontextmanager
async def open_socket(user: User) -> AsyncIterator[WebsocketCommunicator]:
    """A socket authenticated with a bearer token, always disconnected afterwards."""
    connected, communicator = await handshake(await sync(bearer)(user))
    assert connected, "the handshake was refused"
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def receive(communicator: WebsocketCommunicator, timeout: float = 3) -> Frame:
    frame = await communicator.receive_json_from(timeout=timeout)
    assert isinstance(frame, dict)
    return frame


async def subscribe(
    communicator: WebsocketCommunicator, slug: str = "ops", after: int | None = None
) -> Frame:
    request: Frame = {"type": "subscribe", "channel": slug}
    if after is not None:
        request["after"] = after
    await communicator.send_json_to(request)
    return await receive(communicator)


async def send_message(
    communicator: WebsocketCommunicator,
    body: str = "hello",
    *,
    slug: str = "ops",
    client_id: str | None = None,
) -> str:
    client_id = client_id or str(uuid.uuid4())
    await communicator.send_json_to(
        {"type": "message.send", "channel": slug, "client_id": client_id, "body": body}
    )
    return client_id


async def assert_alive(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}


async def in_fresh_connection(query: Callable[[], T]) -> T:
    """Run `query` on a database connection of its own: it sees committed rows only."""
    result: list[T] = []

    def run() -> None:
        try:
            result.append(query())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=10)
    assert result, "the query failed"
    return result[0]


def assert_message_object(message: Frame) -> None:
    assert set(message) == MESSAGE_KEYS
    assert set(message["author"]) == AUTHOR_KEYS
    assert set(message["author"]["institution"]) == INSTITUTION_KEYS
    assert isinstance(message["id"], int) and isinstance(message["seq"], int)
    assert isinstance(message["body"], str) and isinstance(message["html"], str)
    assert isinstance(message["attachments"], list)
    assert message["created_at"].endswith("Z")
    for attachment in message["attachments"]:
        assert set(attachment) == {"id", "size", "epoch"}


def post(user: User, channel: Channel, body: str = "hello") -> Message:
    return factories.post(user, channel, body)


def api_post(user: User, slug: str, body: str) -> Frame:
    response = api_client(user).post(
        f"/api/v1/channels/{slug}/messages",
        {"body": body, "client_id": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    payload: Frame = response.json()
    return payload


def side_channel(world: World) -> Channel:
    """A second channel where the participants' institution stays admitted."""
    channel = factories.make_channel("side")
    factories.admit(channel, world.participant_institution, "participant")
    return channel


# --- 1. the handshake ----------------------------------------------------------------


async def test_a_handshake_without_credentials_is_refused(world: World) -> None:
    for headers in ([], [(b"origin", b"http://127.0.0.1")]):
        connected, communicator = await handshake(headers)
        assert not connected
        await communicator.disconnect()


async def test_a_bearer_token_is_accepted_without_an_origin(world: World) -> None:
    async with open_socket(world.member) as socket:
        await assert_alive(socket)
        assert (await subscribe(socket))["type"] == "subscribed"


async def test_a_bearer_token_is_accepted_whatever_the_origin(world: World) -> None:
    headers = [*await sync(bearer)(world.member), (b"origin", b"https://elsewhere.example")]
    connected, communicator = await handshake(headers)
    assert connected
    await assert_alive(communicator)
    await communicator.disconnect()


async def test_a_session_cookie_is_accepted_with_an_allowed_origin(world: World) -> None:
    cookie = await sync(session_cookie)(world.member)
    for origin in (b"http://127.0.0.1", b"http://localhost", b"http://localhost:8000"):
        connected, communicator = await handshake([(b"cookie", cookie), (b"origin", origin)])
        assert connected, origin
        subscribed = await subscribe(communicator)
        assert subscribed == {"type": "subscribed", "channel": "ops", "messages": []}
        await communicator.disconnect()


async def test_cross_site_websocket_hijacking_with_a_foreign_null_or_no_origin_is_refused(
    world: World,
) -> None:
    cookie = (b"cookie", await sync(session_cookie)(world.member))
    foreign = [b"https://evil.example", b"http://127.0.0.1.evil.example", b"null"]
    for headers in [*([cookie, (b"origin", origin)] for origin in foreign), [cookie]]:
        connected, communicator = await handshake(headers)
        assert not connected, headers
        await communicator.disconnect()


async def test_the_session_of_a_deactivated_user_is_refused(world: World) -> None:
    cookie = await sync(session_cookie)(world.member)
    await sync(user_set_active)(actor=None, user=world.member, active=False)
    connected, communicator = await handshake(
        [(b"cookie", cookie), (b"origin", b"http://127.0.0.1")]
    )
    assert not connected
    await communicator.disconnect()


def _revoke(user: User) -> None:
    token = ApiToken.objects.filter(user=user).latest("pk")
    token_revoke(user=user, token_id=token.pk)


def _expire(user: User) -> None:
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize("spoil", [_revoke, _expire], ids=["revoked", "expired"])
async def test_a_revoked_or_expired_token_is_refused(
    world: World, spoil: Callable[[User], None]
) -> None:
    headers = await sync(bearer)(world.member)
    connected, communicator = await handshake(headers)
    assert connected
    await communicator.disconnect()
    await sync(spoil)(world.member)
    connected, communicator = await handshake(headers)
    assert not connected
    await communicator.disconnect()


async def test_an_unknown_token_or_another_scheme_is_refused(world: World) -> None:
    for value in (b"Bearer exch_not-a-real-token", b"Bearer ", b"Basic bWF0ZW86cGFzc3dvcmQ="):
        connected, communicator = await handshake([(b"authorization", value)])
        assert not connected, value
        await communicator.disconnect()


# --- 2. subscribing ------------------------------------------------------------------


async def test_subscribe_answers_the_messages_after_the_given_id_in_ascending_order(
    world: World,
) -> None:
    ids = [(await sync(post)(world.owner, world.channel, f"m{i}")).pk for i in range(5)]
    async with open_socket(world.observer) as socket:
        subscribed = await subscribe(socket, after=ids[1])
        assert subscribed["type"] == "subscribed" and subscribed["channel"] == "ops"
        assert [m["id"] for m in subscribed["messages"]] == ids[2:]
        assert [m["body"] for m in subscribed["messages"]] == ["m2", "m3", "m4"]
        assert [m["seq"] for m in subscribed["messages"]] == [3, 4, 5]
        for message in subscribed["messages"]:
            assert_message_object(message)
        again = await subscribe(socket, after=ids[-1])
        assert again["messages"] == []


def _fill(world: World, count: int) -> list[int]:
    """`count` stored messages, written in bulk: this is about reading a long history."""
    Message.objects.bulk_create(
        Message(
            channel=world.channel,
            seq=seq,
            author=world.member,
            client_id=uuid.uuid4(),
            body=f"n{seq}",
            html=f"<p>n{seq}</p>\n",
        )
        for seq in range(1, count + 1)
    )
    Channel.objects.filter(pk=world.channel.pk).update(last_seq=count)
    return list(Message.objects.order_by("id").values_list("id", flat=True))


async def test_subscribe_sends_at_most_200_the_newest_without_after(world: World) -> None:
    ids = await sync(_fill)(world, 250)
    async with open_socket(world.member) as socket:
        newest = await subscribe(socket)
        assert [m["id"] for m in newest["messages"]] == ids[-200:]
        first = await subscribe(socket, after=0)
        assert [m["id"] for m in first["messages"]] == ids[:200]
        rest = await subscribe(socket, after=ids[199])
        assert [m["id"] for m in rest["messages"]] == ids[200:]


async def test_a_subscriber_receives_messages_another_user_sends_over_http(world: World) -> None:
    async with open_socket(world.observer) as socket:
        await subscribe(socket)
        sent = await sync(api_post)(world.owner, "ops", "**from the API**")
        frame = await receive(socket)
        assert set(frame) == {"type", "message"}
        assert frame["type"] == "message.new"
        assert_message_object(frame["message"])
        assert frame["message"] == sent
        assert frame["message"]["author"] == {
            "username": "olivia",
            "display_name": "Olivia",
            "institution": {"slug": "guardia-civil", "name": "Guardia Civil", "country": "ES"},
        }
        assert frame["message"]["html"] == "<p><strong>from the API</strong></p>\n"
        assert frame["message"]["edited_at"] is None and frame["message"]["parent"] is None


async def test_a_subscriber_receives_messages_sent_through_the_service(world: World) -> None:
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        message = await sync(post)(world.owner, world.channel, "from the service")
        frame = await receive(socket)
        assert frame["type"] == "message.new"
        assert (frame["message"]["id"], frame["message"]["seq"]) == (message.pk, 1)
        assert frame["message"]["body"] == "from the service"


async def test_an_outsider_is_refused_a_listed_channel_and_hears_nothing_from_it(
    world: World,
) -> None:
    await sync(post)(world.owner, world.channel, "before")
    own = await sync(factories.make_channel)("own")
    await sync(factories.admit)(own, world.outsider_institution, "participant")
    async with open_socket(world.outsider) as socket:
        refused = await subscribe(socket)
        assert refused["type"] == "error"
        assert refused["code"] == "forbidden"
        assert refused["channel"] == "ops"
        assert "messages" not in refused
        await subscribe(socket, "own")
        await sync(post)(world.owner, world.channel, "secret")
        await sync(post)(world.outsider, own, "own news")
        frame = await receive(socket)
        assert frame["type"] == "message.new"
        assert frame["message"]["channel"] == "own"


async def test_an_unlisted_channel_answers_not_found_to_an_outsider(world: World) -> None:
    await sync(Channel.objects.filter(pk=world.channel.pk).update)(listed=False)
    async with open_socket(world.outsider) as socket:
        hidden = await subscribe(socket)
        missing = await subscribe(socket, "no-such-channel")
    assert {k: hidden[k] for k in ("type", "code", "channel")} == {
        "type": "error",
        "code": "not_found",
        "channel": "ops",
    }
    assert {k: missing[k] for k in ("type", "code", "channel")} == {
        "type": "error",
        "code": "not_found",
        "channel": "no-such-channel",
    }
    async with open_socket(world.member) as socket:
        assert (await subscribe(socket))["type"] == "subscribed"


async def test_unsubscribe_stops_the_messages_of_that_channel(world: World) -> None:
    side = await sync(side_channel)(world)
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        await subscribe(socket, "side")
        await socket.send_json_to({"type": "unsubscribe", "channel": "ops"})
        assert await receive(socket) == {"type": "unsubscribed", "channel": "ops"}
        await sync(post)(world.owner, world.channel, "not for you any more")
        await sync(post)(world.owner, side, "still for you")
        frame = await receive(socket)
        assert frame["message"]["body"] == "still for you"


def api_edit(user: User, message_id: int, body: str) -> int:
    response = api_client(user).patch(
        f"/api/v1/messages/{message_id}", {"body": body}, content_type="application/json"
    )
    return response.status_code


def api_delete(user: User, message_id: int) -> int:
    return api_client(user).delete(f"/api/v1/messages/{message_id}").status_code


async def test_edits_and_deletions_reach_subscribers(world: World) -> None:
    message = await sync(post)(world.member, world.channel, "draft")
    async with open_socket(world.observer) as socket:
        await subscribe(socket)
        assert await sync(api_edit)(world.member, message.pk, "final") == 200
        updated = await receive(socket)
        assert updated["type"] == "message.updated"
        assert_message_object(updated["message"])
        assert (updated["message"]["id"], updated["message"]["body"]) == (message.pk, "final")
        assert updated["message"]["edited_at"] is not None
        assert await sync(api_delete)(world.owner, message.pk) == 200
        deleted = await receive(socket)
        assert deleted["type"] == "message.deleted"
        assert_message_object(deleted["message"])
        assert deleted["message"]["id"] == message.pk
        assert (deleted["message"]["body"], deleted["message"]["deleted"]) == ("", True)


# --- 3. sending ----------------------------------------------------------------------


async def test_message_send_is_acknowledged_only_after_commit(world: World) -> None:
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        client_id = await send_message(socket, "committed first")
        ack = await receive(socket)
        assert ack["type"] == "message.ack"
        assert set(ack) == {"type", "client_id", "message"}
        assert ack["client_id"] == client_id
        assert_message_object(ack["message"])
        stored = await in_fresh_connection(
            lambda: list(Message.objects.values_list("pk", "seq", "body", "client_id"))
        )
        assert stored == [(ack["message"]["id"], 1, "committed first", uuid.UUID(client_id))]
        new = await receive(socket)
        assert new == {"type": "message.new", "message": ack["message"]}


async def test_message_new_reaches_every_subscriber_including_the_sender(world: World) -> None:
    async with (
        open_socket(world.member) as sender,
        open_socket(world.owner) as moderator,
        open_socket(world.observer) as observer,
    ):
        for socket in (sender, moderator, observer):
            await subscribe(socket)
        await send_message(sender, "to all")
        ack = await receive(sender)
        assert ack["type"] == "message.ack"
        expected = {"type": "message.new", "message": ack["message"]}
        for socket in (sender, moderator, observer):
            assert await receive(socket) == expected
        for socket in (sender, moderator, observer):
            assert await socket.receive_nothing(timeout=0.1)


async def test_resending_a_client_id_returns_the_same_ack_and_stores_one_row(
    world: World,
) -> None:
    async with open_socket(world.member) as socket, open_socket(world.owner) as other:
        await subscribe(socket)
        await subscribe(other)
        client_id = await send_message(socket, "once")
        first = await receive(socket)
        assert (await receive(socket))["type"] == "message.new"
        assert (await receive(other))["type"] == "message.new"
        await send_message(socket, "once", client_id=client_id)
        again = await receive(socket)
        assert again == first
        # A resend is not news: nobody is told twice.
        await sync(post)(world.owner, world.channel, "next")
        assert (await receive(other))["message"]["body"] == "next"
        assert (await receive(socket))["message"]["body"] == "next"
    assert await sync(Message.objects.filter(client_id=client_id).count)() == 1
    assert await sync(Message.objects.count)() == 2


async def test_a_resent_client_id_after_reconnecting_returns_the_same_ack(world: World) -> None:
    client_id = str(uuid.uuid4())
    async with open_socket(world.member) as socket:
        await send_message(socket, "lost ack?", client_id=client_id)
        first = await receive(socket)
    async with open_socket(world.member) as socket:
        await send_message(socket, "lost ack?", client_id=client_id)
        assert await receive(socket) == first
    assert await sync(Message.objects.count)() == 1


@pytest.mark.parametrize("who", ["observer", "outsider"])
async def test_an_observer_or_an_outsider_cannot_send(world: World, who: str) -> None:
    async with open_socket(getattr(world, who)) as socket, open_socket(world.member) as member:
        await subscribe(member)
        client_id = await send_message(socket, "let me in")
        error = await receive(socket)
        assert error["type"] == "error"
        assert error["code"] == "forbidden"
        assert error["ref"] == client_id
        assert isinstance(error["message"], str) and error["message"]
        await sync(post)(world.owner, world.channel, "only this")
        assert (await receive(member))["message"]["body"] == "only this"
        await assert_alive(socket)
    assert await sync(Message.objects.filter(client_id=client_id).exists)() is False


async def test_sending_to_an_unlisted_channel_answers_not_found_to_an_outsider(
    world: World,
) -> None:
    await sync(Channel.objects.filter(pk=world.channel.pk).update)(listed=False)
    async with open_socket(world.outsider) as socket:
        client_id = await send_message(socket)
        error = await receive(socket)
    assert (error["type"], error["code"], error["ref"]) == ("error", "not_found", client_id)
    assert await sync(Message.objects.exists)() is False


# --- 4. bad frames -------------------------------------------------------------------

UUID = "5b0c1b8e-2f0e-4a55-9d84-3c0f1c1f0a01"


def send_frame(**overrides: Any) -> str:
    frame = {"type": "message.send", "channel": "ops", "client_id": UUID, "body": "hi"}
    frame.update(overrides)
    return json.dumps({k: v for k, v in frame.items() if v is not ...})


BAD_FRAMES: list[tuple[str, str | bytes, str, str | None]] = [
    # (name, what the client sends, error code, field)
    ("not json", "{not json", "bad_request", None),
    ("truncated json", '{"type": "ping"', "bad_request", None),
    ("empty object", "{}", "bad_request", None),
    ("json array", '[{"type": "ping"}]', "bad_request", None),
    ("json number", "42", "bad_request", None),
    ("json string", '"ping"', "bad_request", None),
    ("json null", "null", "bad_request", None),
    ("missing type", '{"channel": "ops"}', "bad_request", None),
    ("numeric type", '{"type": 7}', "bad_request", None),
    ("null type", '{"type": null}', "bad_request", None),
    ("unknown type", '{"type": "message.explode"}', "bad_request", "type"),
    ("server frame type", '{"type": "message.new", "message": {}}', "bad_request", "type"),
    ("subscribe without channel", '{"type": "subscribe"}', "bad_request", "channel"),
    ("send without client_id", send_frame(client_id=...), "bad_request", "client_id"),
    ("send without channel", send_frame(channel=...), "bad_request", "channel"),
    ("body is a number", send_frame(body=5), "bad_request", "body"),
    ("body is null", send_frame(body=None), "bad_request", "body"),
    ("body is blank", send_frame(body="   "), "bad_request", "body"),
    ("body has a NUL", send_frame(body="a\x00b"), "bad_request", "body"),
    ("body is a lone surrogate", send_frame(body="\ud800"), "bad_request", "body"),
    ("body over 10000 chars", send_frame(body="x" * 10_001), "bad_request", "body"),
    ("parent is a string", send_frame(parent="1"), "bad_request", "parent"),
    ("parent does not exist", send_frame(parent=999_999), "bad_request", "parent"),
    ("parent is huge", send_frame(parent=10**30), "bad_request", "parent"),
    ("attachments unknown", send_frame(attachments=[123]), "bad_request", "attachments"),
    ("handling code unknown", send_frame(handling_code="TLP:PURPLE"), "bad_request",
     "handling_code"),
    ("handling code above the channel", send_frame(handling_code="TLP:RED"), "bad_request",
     "handling_code"),
    ("after is a string", '{"type": "subscribe", "channel": "ops", "after": "5"}',
     "bad_request", "after"),
    ("after is negative", '{"type": "subscribe", "channel": "ops", "after": -1}',
     "bad_request", "after"),
    ("after is a boolean", '{"type": "subscribe", "channel": "ops", "after": true}',
     "bad_request", "after"),
    ("after is a float", '{"type": "subscribe", "channel": "ops", "after": 1.5}',
     "bad_request", "after"),
    ("extra field on ping", '{"type": "ping", "x": 1}', "bad_request", "x"),
    ("extra field on send", send_frame(author="olivia"), "bad_request", "author"),
    ("bad uuid", send_frame(client_id="not-a-uuid"), "bad_request", "client_id"),
    ("uuid as a number", send_frame(client_id=12345), "bad_request", "client_id"),
    ("bad slug", '{"type": "subscribe", "channel": "../Ops!"}', "bad_request", "channel"),
    ("slug too long", json.dumps({"type": "subscribe", "channel": "a" * 65}), "bad_request",
     "channel"),
    ("channel is a list", '{"type": "subscribe", "channel": ["ops"]}', "bad_request",
     "channel"),
    ("frame over 64 KiB", send_frame(body="x" * 70_000), "too_large", None),
    ("multibyte frame over 64 KiB", '{"type": "ping", "x": "' + "\u00e9" * 33_000 + '"}',
     "too_large", None),
    ("binary frame", b'{"type": "ping"}', "bad_request", None),
    ("100000 nested lists", "[" * 100_000 + "]" * 100_000, "too_large", None),
    ("30000 nested lists", "[" * 30_000 + "]" * 30_000, "bad_request", None),
    ("10000 nested objects", '{"a":' * 10_000 + "1" + "}" * 10_000, "bad_request", None),
    ("nested value inside a frame",
     '{"type": "subscribe", "channel": "ops", "after": ' + "[" * 500 + "]" * 500 + "}",
     "bad_request", "after"),
]  # fmt: skip


async def test_every_bad_frame_gets_its_error_and_the_socket_keeps_answering(
    world: World,
) -> None:
    """One socket takes the whole list: each frame is answered with its error, `ping`
    still answers `pong` after each, and nothing was stored."""
    async with open_socket(world.member) as socket:
        for name, data, code, field in BAD_FRAMES:
            if isinstance(data, bytes):
                await socket.send_to(bytes_data=data)
            else:
                await socket.send_to(text_data=data)
            error = await receive(socket)
            assert (error["type"], error["code"], error.get("field")) == ("error", code, field), (
                name
            )
            assert isinstance(error["message"], str) and error["message"], name
            await assert_alive(socket)
        assert await sync(Message.objects.exists)() is False
        assert (await subscribe(socket))["type"] == "subscribed"
        await send_message(socket, "still here")
        assert (await receive(socket))["type"] == "message.ack"
    assert await sync(Message.objects.count)() == 1


async def test_a_huge_after_is_answered_with_an_empty_backlog(world: World) -> None:
    await sync(post)(world.owner, world.channel)
    async with open_socket(world.member) as socket:
        subscribed = await subscribe(socket, after=10**30)
        assert subscribed == {"type": "subscribed", "channel": "ops", "messages": []}
        await assert_alive(socket)


# --- 5. revocation -------------------------------------------------------------------


async def test_removing_the_institution_revokes_the_subscription_at_once(world: World) -> None:
    side = await sync(side_channel)(world)
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        await subscribe(socket, "side")
        await sync(admission_remove)(
            actor=world.owner, channel=world.channel, institution=world.participant_institution
        )
        assert await receive(socket, timeout=1) == {"type": "channel.revoked", "channel": "ops"}
        # The owner still moderates ops; their later message must not reach the member.
        await sync(post)(world.owner, world.channel, "after the removal")
        await sync(post)(world.owner, side, "side news")
        frame = await receive(socket)
        assert (frame["type"], frame["message"]["body"]) == ("message.new", "side news")
        refused = await subscribe(socket)
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
        client_id = await send_message(socket, "still in?")
        assert (await receive(socket))["code"] == "forbidden"
    assert await sync(Message.objects.filter(client_id=client_id).exists)() is False


async def test_a_ban_revokes_the_subscription_at_once(world: World) -> None:
    side = await sync(side_channel)(world)
    async with open_socket(world.member) as socket, open_socket(world.observer) as observer:
        await subscribe(socket)
        await subscribe(socket, "side")
        await subscribe(observer)
        await sync(ban_create)(actor=world.owner, channel=world.channel, user=world.member)
        assert await receive(socket, timeout=1) == {"type": "channel.revoked", "channel": "ops"}
        await sync(post)(world.owner, world.channel, "after the ban")
        await sync(post)(world.owner, side, "side news")
        assert (await receive(socket))["message"]["body"] == "side news"
        # Only the banned person lost the channel.
        assert (await receive(observer))["message"]["body"] == "after the ban"


async def test_deactivation_revokes_every_subscription_and_closes_the_socket(
    world: World,
) -> None:
    await sync(side_channel)(world)
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        await subscribe(socket, "side")
        await sync(user_set_active)(actor=None, user=world.member, active=False)
        revoked = [await receive(socket, timeout=1), await receive(socket, timeout=1)]
        assert sorted(f["channel"] for f in revoked) == ["ops", "side"]
        assert {f["type"] for f in revoked} == {"channel.revoked"}
        closing = await socket.receive_output(timeout=1)
        assert closing["type"] == "websocket.close"
        assert closing["code"] == 4401


async def test_a_downgrade_to_observer_keeps_reading_but_refuses_sends(world: World) -> None:
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        await sync(admission_set)(
            actor=world.owner,
            channel=world.channel,
            institution=world.participant_institution,
            role="observer",
        )
        assert await receive(socket, timeout=1) == {
            "type": "channel.role",
            "channel": "ops",
            "role": "observer",
            "is_moderator": False,
        }
        await assert_alive(socket)  # the re-check revoked nothing
        await sync(post)(world.owner, world.channel, "still readable")
        frame = await receive(socket)
        assert (frame["type"], frame["message"]["body"]) == ("message.new", "still readable")
        client_id = await send_message(socket, "may I?")
        error = await receive(socket)
        assert (error["code"], error["ref"]) == ("forbidden", client_id)
    assert await sync(Message.objects.filter(client_id=client_id).exists)() is False


# --- 6. the catch-up promise (SPEC §8) ----------------------------------------------


async def test_a_client_that_reconnects_with_after_misses_nothing_and_sees_nothing_twice(
    world: World,
) -> None:
    seen: list[int] = []
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        for i in range(3):
            await send_message(socket, f"mine {i}")
            frames = [await receive(socket), await receive(socket)]
            assert sorted(f["type"] for f in frames) == ["message.ack", "message.new"]
            seen.append(frames[0]["message"]["id"])
    missed = [(await sync(api_post)(world.owner, "ops", f"while away {i}"))["id"] for i in range(4)]
    async with open_socket(world.member) as socket:
        subscribed = await subscribe(socket, after=seen[-1])
        assert [m["id"] for m in subscribed["messages"]] == missed
        assert [m["seq"] for m in subscribed["messages"]] == [4, 5, 6, 7]
        later = await sync(post)(world.owner, world.channel, "live again")
        frame = await receive(socket)
        assert (frame["type"], frame["message"]["id"]) == ("message.new", later.pk)
        assert await socket.receive_nothing(timeout=0.1)


@pytest.mark.parametrize("moment", ["before the backlog is read", "after the backlog is read"])
async def test_a_message_committed_during_the_subscribe_arrives_exactly_once(
    world: World, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """The race the watermark exists for, made deterministic: a message is committed
    (and broadcast to the group the socket has just joined) while the subscribe runs."""
    earlier = await sync(post)(world.owner, world.channel, "earlier")
    raced: list[Message] = []
    read_backlog = ChannelSocket._backlog

    def racing_backlog(self: ChannelSocket, access: Any, after: int | None) -> Any:
        if moment == "before the backlog is read":
            raced.append(post(world.owner, world.channel, "raced"))
        backlog = read_backlog(self, access, after)
        if moment == "after the backlog is read":
            raced.append(post(world.owner, world.channel, "raced"))
        return backlog

    monkeypatch.setattr(ChannelSocket, "_backlog", racing_backlog)
    async with open_socket(world.member) as socket:
        subscribed = await subscribe(socket, after=earlier.pk)
        monkeypatch.undo()
        received = [m["id"] for m in subscribed["messages"]]
        later = await sync(post)(world.owner, world.channel, "later")
        while (frame := await receive(socket))["message"]["id"] != later.pk:
            assert frame["type"] == "message.new"
            received.append(frame["message"]["id"])
        received.append(later.pk)
        assert received == [raced[0].pk, later.pk]
        assert await socket.receive_nothing(timeout=0.1)


async def test_a_broadcast_that_arrives_out_of_order_is_still_delivered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis layer shared by several processes may deliver two broadcasts in the other
    order than their commits; neither may be dropped (the client sorts by seq)."""
    held: list[tuple[str, BroadcastFrame]] = []
    monkeypatch.setattr(events, "send_on_commit", lambda group, event: held.append((group, event)))
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        first = await sync(post)(world.owner, world.channel, "first")
        second = await sync(post)(world.owner, world.channel, "second")
        layer = get_channel_layer()
        for group, event in reversed(held):
            await layer.group_send(group, event.as_layer_message())
        frames = [await receive(socket), await receive(socket)]
        assert [f["message"]["id"] for f in frames] == [second.pk, first.pk]


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "subscribe", "channel": "ops"},
        {"type": "message.send", "channel": "ops", "client_id": UUID, "body": "hi"},
    ],
    ids=["subscribe", "message.send"],
)
async def test_a_frame_from_a_user_deactivated_without_notice_closes_the_socket(
    world: World, frame: Frame
) -> None:
    """Every frame re-checks the account, so a lost access.changed event costs nothing."""
    async with open_socket(world.member) as socket:
        await sync(User.objects.filter(pk=world.member.pk).update)(is_active=False)
        await socket.send_json_to(frame)
        closing = await socket.receive_output(timeout=1)
        assert (closing["type"], closing.get("code")) == ("websocket.close", 4401)
    assert await sync(Message.objects.exists)() is False


async def test_revoking_a_token_closes_the_sockets_opened_with_it_and_no_others(
    world: World,
) -> None:
    """A stolen token, revoked: the thief's open socket must not outlive it."""
    revoked_secret = await sync(factories.token_for)(world.member)
    kept_secret = await sync(factories.token_for)(world.member)
    _, doomed = await handshake([(b"authorization", f"Bearer {revoked_secret}".encode())])
    _, kept = await handshake([(b"authorization", f"Bearer {kept_secret}".encode())])
    try:
        await subscribe(doomed)
        await subscribe(kept)
        token = await sync(
            lambda: ApiToken.objects.filter(user=world.member).order_by("created_at").first()
        )()
        assert token is not None
        await sync(token_revoke)(user=world.member, token_id=token.pk)
        closed = await doomed.receive_output(timeout=1)
        assert closed == {"type": "websocket.close", "code": 4401}
        await kept.send_json_to({"type": "ping"})
        assert await receive(kept) == {"type": "pong"}
    finally:
        await doomed.disconnect()
        await kept.disconnect()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "pong", "extra": 1},
        {"type": "epoch.new", "channel": "ops", "epoch": "2"},
        {"type": "epoch.new", "channel": "ops"},
        {"type": "channel.role", "channel": "ops", "role": "observer", "is_moderator": 0},
        {"type": "message.ack", "client_id": UUID, "message": {"id": 1}},
        {"type": "mention.new", "channel": "ops"},
    ],
    ids=["extra key", "coerced type", "missing key", "int for bool", "short message", "unknown"],
)
def test_a_frame_that_drifts_from_its_definition_fails_the_check(frame: Frame) -> None:
    """The check every received frame goes through (tests/conftest.py) is strict, so it
    catches drift."""
    with pytest.raises(ValueError):
        check_server_frame(frame)


async def test_received_frames_are_checked_against_their_definitions(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conftest check is in force here: a consumer that drifts fails at receive."""
    from channels_app.socket import consumer

    original = consumer.ChannelSocket.on_ping

    async def drifting_pong(self: ChannelSocket, frame: Any) -> None:
        await self.send(text_data='{"type":"pong","at":1}')

    monkeypatch.setattr(consumer.ChannelSocket, "on_ping", drifting_pong)
    async with open_socket(world.member) as socket:
        await socket.send_json_to({"type": "ping"})
        with pytest.raises(ValueError, match="pong"):
            await receive(socket)
    assert original is not drifting_pong
