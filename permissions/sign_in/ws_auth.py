"""WebSocket handshake authentication: a bearer token, or the session cookie.

API clients send `Authorization: Bearer <token>` and need no Origin. Browsers are
authenticated by their session cookie, which any page the user visits could make
their browser send, so that path demands an Origin among the allowed hosts
(cross-site WebSocket hijacking). A handshake with neither is left anonymous and
the consumer refuses it.

A session cookie opens a socket only for a session that is signed in completely: not
past its absolute lifetime, and past the one-time code if its user needs one
(permissions.sign_in.two_factor). Such a socket joins its session's group, so that signing out
closes it at once, and a watch tells the group to close when the session reaches its
absolute lifetime, or is found gone from the session store (idle too long, or deleted),
looking every EXCHANGE_SESSION_SOCKET_CHECK_SECONDS: a socket does not outlive the
session it was opened with.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from exchange.kernel.realtime import session_group
from permissions.models import User
from permissions.sign_in.sessions import ENDED, session_alive, session_seconds_left
from permissions.sign_in.tokens import token_lookup
from permissions.sign_in.two_factor import session_state

Scope = dict[str, Any]


def _bearer_secret(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return secret.strip() if scheme.lower() == "bearer" else ""
    return None


def _session_group_if_complete(user: User, session: Any) -> tuple[str, float] | None:
    """The group of a fully signed-in session and the seconds it has left, or None for a
    session that may not open a socket."""
    seconds_left = session_seconds_left(session)
    if seconds_left <= 0 or not session_state(user, session).passes or not session.session_key:
        return None
    return session_group(session.session_key), seconds_left


async def _watch_session(group: str, session_key: str, seconds_left: float) -> None:
    """Close the session's sockets when it reaches its absolute lifetime or is found
    gone from the store; until then, look again every check interval."""
    deadline = time.monotonic() + seconds_left
    while True:
        interval = settings.SESSION_SOCKET_CHECK_SECONDS
        await asyncio.sleep(max(0.0, min(interval, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            break
        if not await database_sync_to_async(session_alive)(session_key):
            break
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, ENDED.as_layer_message())


class CompleteSessionOnly:
    """Behind Channels' session and auth middleware: leaves anonymous a handshake whose
    session has only passed the password, or has outlived its absolute lifetime."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        user = scope.get("user")
        if not (isinstance(user, User) and user.is_authenticated):
            return await self.app(scope, receive, send)
        complete = await database_sync_to_async(_session_group_if_complete)(user, scope["session"])
        if complete is None:
            return await self.app(scope | {"user": AnonymousUser()}, receive, send)
        group, seconds_left = complete
        session_key = scope["session"].session_key
        watch = asyncio.get_running_loop().create_task(
            _watch_session(group, session_key, seconds_left)
        )
        try:
            return await self.app(
                scope
                | {"auth_method": "session", "session_group": group, "session_key": session_key},
                receive,
                send,
            )
        finally:
            watch.cancel()


class TokenOrSessionAuthMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookie_app = AllowedHostsOriginValidator(AuthMiddlewareStack(CompleteSessionOnly(app)))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        secret = _bearer_secret(scope)
        if secret is None:
            return await self.cookie_app(scope, receive, send)
        token = await database_sync_to_async(token_lookup)(secret) if secret else None
        scope = {
            **scope,
            "user": token.user if token is not None else AnonymousUser(),
            "auth_method": "token",
            "token_id": token.pk if token is not None else None,
        }
        return await self.app(scope, receive, send)
