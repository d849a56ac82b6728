"""What a session may do on the WebSocket: a session that passed only the password, or
outlived its absolute lifetime, opens no socket; signing out closes the sockets opened
with that session, at once; changing the password closes every socket of the user.

Driven in-process through exchange.asgi.application, with committed data (the consumer
reads the database from its own thread) and every socket disconnected at the end."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from exchange.asgi import application
from permissions.models import User
from permissions.sign_in.sessions import SIGNED_IN_AT
from tests import factories
from tests.conftest import World
from tests.signing_in import PASSWORD, session_cookie_of, signed_in, totp_code, totp_device

pytestmark = pytest.mark.django_db(transaction=True)

sync = database_sync_to_async
ORIGIN = (b"origin", b"http://127.0.0.1")
NEW_PASSWORD = "a different horse, battery and staple"


@pytest.fixture(autouse=True)
async def empty_layer() -> AsyncIterator[None]:
    layer = get_channel_layer()
    await layer.flush()
    yield
    await layer.flush()


async def handshake(headers: list[tuple[bytes, bytes]]) -> tuple[bool, WebsocketCommunicator]:
    communicator = WebsocketCommunicator(application, "/ws/v1/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    return connected, communicator


async def with_cookie(client: Client) -> tuple[bool, WebsocketCommunicator]:
    return await handshake([(b"cookie", session_cookie_of(client)), ORIGIN])


async def assert_alive(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}


async def assert_closed(communicator: WebsocketCommunicator) -> None:
    output: dict[str, Any] = await communicator.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4401}


def password_only(username: str) -> Client:
    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def enter_code(client: Client, user: User) -> None:
    response = client.post("/two-factor/", {"code": totp_code(totp_device(user))})
    assert response.status_code == 302


def age_session(client: Client, hours: float) -> None:
    session = client.session
    session[SIGNED_IN_AT] = int(time.time() - hours * 3600)
    session.save()


async def test_password_only_session_opens_no_socket(world: World) -> None:
    await sync(totp_device)(world.owner)
    client = await sync(password_only)("olivia")
    connected, communicator = await with_cookie(client)
    assert not connected
    await communicator.disconnect()

    await sync(enter_code)(client, world.owner)
    connected, communicator = await with_cookie(client)
    assert connected
    await assert_alive(communicator)
    await communicator.disconnect()


async def test_a_session_that_must_enrol_first_opens_no_socket(world: World) -> None:
    client = await sync(password_only)("olivia")  # a moderator with no device yet
    connected, communicator = await with_cookie(client)
    assert not connected
    await communicator.disconnect()


async def test_a_session_past_its_absolute_lifetime_opens_no_socket(world: World) -> None:
    client = await sync(signed_in)(world.member)
    await sync(age_session)(client, 12.1)
    connected, communicator = await with_cookie(client)
    assert not connected
    await communicator.disconnect()
    await sync(age_session)(client, 11.9)
    connected, communicator = await with_cookie(client)
    assert connected
    await communicator.disconnect()


async def test_a_socket_closes_when_its_session_reaches_its_absolute_lifetime(
    world: World,
) -> None:
    client = await sync(signed_in)(world.member)
    # Signed in 12 hours ago, less a few seconds: the session has those seconds left.
    await sync(age_session)(client, 12 - 4 / 3600)
    connected, socket = await with_cookie(client)
    try:
        assert connected
        await assert_alive(socket)
        output = await socket.receive_output(timeout=15)
        assert output == {"type": "websocket.close", "code": 4401}
    finally:
        await socket.disconnect()


async def test_sign_out_closes_the_sockets_opened_with_that_session_only(world: World) -> None:
    leaving = await sync(signed_in)(world.member)
    staying = await sync(signed_in)(world.member)
    token = await sync(factories.token_for)(world.member)
    _, leaving_socket = await with_cookie(leaving)
    _, staying_socket = await with_cookie(staying)
    _, token_socket = await handshake([(b"authorization", f"Bearer {token}".encode())])
    try:
        response = await sync(leaving.post)("/logout/")
        assert response.status_code == 302
        await assert_closed(leaving_socket)
        await assert_alive(staying_socket)
        await assert_alive(token_socket)
    finally:
        for socket in (leaving_socket, staying_socket, token_socket):
            await socket.disconnect()


async def test_password_change_closes_all_the_users_sockets(world: World) -> None:
    changing = await sync(signed_in)(world.member)
    other = await sync(signed_in)(world.member)
    token = await sync(factories.token_for)(world.member)
    _, changing_socket = await with_cookie(changing)
    _, other_socket = await with_cookie(other)
    _, token_socket = await handshake([(b"authorization", f"Bearer {token}".encode())])
    _, colleague_socket = await with_cookie(await sync(signed_in)(world.owner))
    try:
        response = await sync(changing.post)(
            "/password/",
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
        assert response.status_code == 302
        for socket in (changing_socket, other_socket, token_socket):
            await assert_closed(socket)
        await assert_alive(colleague_socket)
        # The other session is signed out; this one reconnects with its new key.
        connected, refused = await with_cookie(other)
        assert not connected
        await refused.disconnect()
        connected, again = await with_cookie(changing)
        assert connected
        await again.disconnect()
    finally:
        for socket in (changing_socket, other_socket, token_socket, colleague_socket):
            await socket.disconnect()


def reset_password_from_the_command_line(username: str, institution: str) -> None:
    from tests.permissions.test_commands import run

    run(
        "create_user",
        username,
        "--institution",
        institution,
        "--password-stdin",
        stdin=NEW_PASSWORD,
    )


async def test_a_password_reset_from_the_command_line_closes_the_users_sockets(
    world: World,
) -> None:
    _, socket = await with_cookie(await sync(signed_in)(world.member))
    try:
        await sync(reset_password_from_the_command_line)("mateo", "guardia-civil")
        await assert_closed(socket)
    finally:
        await socket.disconnect()


def reset_password_in_the_admin(user: User) -> None:
    admin = factories.make_user("ada", is_staff=True)
    admin.is_superuser = True
    admin.save()
    response = signed_in(admin).post(
        f"/admin/permissions/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


async def test_a_password_reset_in_the_admin_closes_the_users_sockets(world: World) -> None:
    _, socket = await with_cookie(await sync(signed_in)(world.member))
    try:
        await sync(reset_password_in_the_admin)(world.member)
        await assert_closed(socket)
    finally:
        await socket.disconnect()


def _expire_in_store(client: Client) -> None:
    """The session idles out: its expiry date in the store passes, as 30 minutes without
    a request would make it."""
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )


def _delete_from_store(client: Client) -> None:
    Session.objects.filter(session_key=client.session.session_key).delete()


@pytest.mark.parametrize("end", [_expire_in_store, _delete_from_store], ids=["idle", "deleted"])
async def test_a_stale_session_on_an_open_socket_closes_it(
    world: World, settings: Any, end: Any
) -> None:
    """The session behind an open socket ends without a sign-out (idle expiry, or deleted
    by an operator): the socket's watch notices within its check interval and closes it."""
    settings.SESSION_SOCKET_CHECK_SECONDS = 1
    client = await sync(signed_in)(world.member)
    other = await sync(signed_in)(world.member)
    connected, socket = await with_cookie(client)
    _, other_socket = await with_cookie(other)
    try:
        assert connected
        await assert_alive(socket)
        await sync(end)(client)
        output = await socket.receive_output(timeout=5)
        assert output == {"type": "websocket.close", "code": 4401}
        await assert_alive(other_socket)  # another live session of the same user stays
    finally:
        await socket.disconnect()
        await other_socket.disconnect()


async def test_using_a_socket_keeps_its_session_from_idling_out(world: World) -> None:
    """A person chatting only over the socket is not idle: their frames push the session's
    expiry on, as page requests do."""
    client = await sync(signed_in)(world.member)
    key = client.session.session_key

    def shorten() -> Any:
        Session.objects.filter(session_key=key).update(
            expire_date=Session.objects.get(session_key=key).expire_date - timedelta(minutes=20)
        )
        return Session.objects.get(session_key=key).expire_date

    connected, socket = await with_cookie(client)
    try:
        assert connected
        before = await sync(shorten)()
        await socket.send_json_to({"type": "subscribe", "channel": "ops"})
        assert (await socket.receive_json_from(timeout=5))["type"] == "subscribed"
        after = await sync(lambda: Session.objects.get(session_key=key).expire_date)()
        assert after > before
    finally:
        await socket.disconnect()
