"""Every way a credential ends closes the sockets opened with it, on time (SPEC §8).

One table: each credential a socket may be opened with (a bearer token, a browser
session) crossed with each way it ends. Some ends are acts, and close the socket at once
through an event (revocation, sign-out, deactivation); others come with time, with no one
acting (a token's expiry, a session's absolute lifetime, the user's certification lapsing),
and close the socket when they fall due. The sockets' periodic check is set to an hour
here, so a socket that closes within seconds closed at its credential's end, not at the
next check (the defect of issue 11: a token that expired while its socket was open kept
receiving `message.new` and getting `message.ack`).

Driven in-process through exchange.asgi.application with committed data.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from exchange.asgi import application
from permissions.institutions.certification import grace, period
from permissions.institutions.services import users_recertify
from permissions.models import ApiToken, User
from permissions.people.services import user_set_active
from permissions.sign_in.sessions import SIGNED_IN_AT
from permissions.sign_in.tokens import token_revoke
from tests import factories
from tests.channels_app.socket.test_consumer import empty_layer  # noqa: F401  (autouse)
from tests.conftest import World
from tests.signing_in import session_cookie_of, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

sync = database_sync_to_async
ORIGIN = (b"origin", b"http://127.0.0.1")
SOON = 2.0  # seconds until an end that comes with time falls due
# How long a socket may take to close after its credential's end: well under the hour of
# the periodic check, generous for a shared machine.
CLOSE_WITHIN = SOON + 6


@pytest.fixture(autouse=True)
def hourly_check(settings: Any) -> None:
    settings.SESSION_SOCKET_CHECK_SECONDS = 3600


@dataclass
class Opened:
    """A socket and what opened it: the token's id or the session's client."""

    user: User
    headers: list[tuple[bytes, bytes]]
    token_id: int | None = None
    client: Client | None = None
    socket: WebsocketCommunicator | None = None


def _nothing(opened: Opened) -> None:
    """No end set up before the socket opens: the end is an act, after."""


async def _connect(opened: Opened, before: Callable[[Opened], None]) -> Opened:
    """Set up what comes with time (`before`: the handshake then measures it), then open."""
    await sync(before)(opened)
    socket = WebsocketCommunicator(application, "/ws/v1/", headers=opened.headers)
    connected, _ = await socket.connect(timeout=5)
    assert connected
    opened.socket = socket
    return opened


async def with_token(user: User, before: Callable[[Opened], None] = _nothing) -> Opened:
    secret = await sync(factories.token_for)(user)
    token_id = await sync(lambda: ApiToken.objects.get(prefix=secret[:12]).pk)()
    headers = [(b"authorization", f"Bearer {secret}".encode())]
    return await _connect(Opened(user=user, headers=headers, token_id=token_id), before)


async def with_session(user: User, before: Callable[[Opened], None] = _nothing) -> Opened:
    client = await sync(signed_in)(user)
    headers = [(b"cookie", session_cookie_of(client)), ORIGIN]
    return await _connect(Opened(user=user, headers=headers, client=client), before)


# --- the ends -------------------------------------------------------------------------------


def _revoke(opened: Opened) -> None:
    assert opened.token_id is not None
    token_revoke(user=opened.user, token_id=opened.token_id)


def _expire_soon(opened: Opened) -> None:
    assert opened.token_id is not None
    ApiToken.objects.filter(pk=opened.token_id).update(
        expires_at=timezone.now() + timedelta(seconds=SOON)
    )


def _sign_out(opened: Opened) -> None:
    assert opened.client is not None
    assert opened.client.post("/logout/").status_code == 302


def _session_lifetime_soon(opened: Opened) -> None:
    """The session was signed in so long ago that its absolute lifetime ends in SOON."""
    from django.conf import settings

    assert opened.client is not None
    session = opened.client.session
    lifetime = settings.SESSION_MAX_HOURS * 3600
    session[SIGNED_IN_AT] = int(time.time() - lifetime + SOON)
    session.save()


def _deactivate(opened: Opened) -> None:
    user_set_active(actor=None, user=User.objects.get(pk=opened.user.pk), active=False)


def _lapse_soon(opened: Opened) -> None:
    """The user's last certification is so old that its grace period ends in SOON."""
    certified_at = timezone.now() - period() - grace() + timedelta(seconds=SOON)
    User.objects.filter(pk=opened.user.pk).update(certified_at=certified_at)


Opener = Callable[[User, Callable[[Opened], None]], Awaitable[Opened]]
Step = Callable[[Opened], None]
# (name, how the socket is opened, what is set up before it opens, what is done after)
END_CASES: list[tuple[str, Opener, Step, Step]] = [
    ("token-revoked", with_token, _nothing, _revoke),
    ("token-expires", with_token, _expire_soon, _nothing),
    ("token-user-deactivated", with_token, _nothing, _deactivate),
    ("token-user-lapses", with_token, _lapse_soon, _nothing),
    ("session-signed-out", with_session, _nothing, _sign_out),
    ("session-reaches-its-lifetime", with_session, _session_lifetime_soon, _nothing),
    ("session-user-deactivated", with_session, _nothing, _deactivate),
    ("session-user-lapses", with_session, _lapse_soon, _nothing),
]


async def assert_alive(socket: WebsocketCommunicator) -> None:
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=3) == {"type": "pong"}


def socket_of(opened: Opened) -> WebsocketCommunicator:
    assert opened.socket is not None
    return opened.socket


@pytest.mark.parametrize(
    ("opener", "before", "after"),
    [case[1:] for case in END_CASES],
    ids=[case[0] for case in END_CASES],
)
async def test_a_credentials_end_closes_its_open_socket_on_time(
    world: World, opener: Opener, before: Step, after: Step
) -> None:
    opened = await opener(world.member, before)
    bystander = await with_token(world.owner)
    try:
        await assert_alive(socket_of(opened))
        await sync(after)(opened)
        output = await socket_of(opened).receive_output(timeout=CLOSE_WITHIN)
        assert output == {"type": "websocket.close", "code": 4401}
        await assert_alive(socket_of(bystander))
    finally:
        await socket_of(opened).disconnect()
        await socket_of(bystander).disconnect()


async def test_an_expired_token_socket_gets_no_new_message_after_its_expiry(
    world: World,
) -> None:
    """The attack as found: after expiry the socket neither receives `message.new` nor
    gets `message.ack`; it is closed, and the same token opens no new socket."""
    opened = await with_token(world.member, _expire_soon)
    socket = socket_of(opened)
    try:
        await socket.send_json_to({"type": "subscribe", "channel": world.channel.slug})
        assert (await socket.receive_json_from(timeout=3))["type"] == "subscribed"
        output = await socket.receive_output(timeout=CLOSE_WITHIN)
        assert output == {"type": "websocket.close", "code": 4401}
    finally:
        await socket.disconnect()
    again = WebsocketCommunicator(application, "/ws/v1/", headers=opened.headers)
    connected, _ = await again.connect(timeout=5)
    assert not connected
    await again.disconnect()


async def test_recertifying_before_the_lapse_keeps_the_socket_open(world: World) -> None:
    """The watch looks again at the moment it expected the lapse: a focal point confirmed
    the user meanwhile, so the socket stays open."""
    opened = await with_token(world.member, _lapse_soon)
    try:
        focal_point = await sync(factories.make_user)(
            "fiona", institution=world.participant_institution, is_focal_point=True
        )
        await sync(users_recertify)(
            actor=focal_point,
            institution=world.participant_institution,
            usernames=[world.member.username],
        )
        await sync(time.sleep)(SOON + 1)
        await assert_alive(socket_of(opened))
    finally:
        await socket_of(opened).disconnect()
