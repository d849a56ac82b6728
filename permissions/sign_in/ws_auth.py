"""WebSocket handshake authentication: a bearer token, or the session cookie.

API clients send `Authorization: Bearer <token>` and need no Origin. Browsers are
authenticated by their session cookie, which any page the user visits could make
their browser send, so that path demands an Origin among the allowed hosts
(cross-site WebSocket hijacking). A handshake with neither is left anonymous and
the consumer refuses it.

A session cookie opens a socket only for a session that is signed in completely: not
past its absolute lifetime, and past the one-time code if its user needs one
(permissions.sign_in.two_factor). Such a socket joins its session's group, so that signing out
closes it at once.

Whichever credential opened it, a socket is served beside a watch
(permissions.sign_in.socket_lifetime) that closes it when the credential ends by itself:
the token's expiry, the session's lifetime or idle end, the user's lapse. A socket does
not outlive the credential it was opened with.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from exchange.kernel.events import TokenRevoked
from exchange.kernel.realtime import session_group, token_group
from permissions.models import ApiToken, User
from permissions.sign_in.sessions import ENDED
from permissions.sign_in.socket_lifetime import seconds_left_of, watch
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
    """The group of a fully signed-in session and the seconds its credential has left
    (permissions.sign_in.socket_lifetime), or None for a session that may not open a
    socket."""
    if not session.session_key or not session_state(user, session).passes:
        return None
    left = seconds_left_of(user, session=session)
    if left <= 0:
        return None
    return session_group(session.session_key), left


def _token_and_seconds_left(secret: str) -> tuple[ApiToken, float] | None:
    """The valid token a secret names and the seconds until it, or its user's
    certification, ends; None for a token that may not open a socket."""
    token = token_lookup(secret)
    if token is None:
        return None
    left = seconds_left_of(token.user, token=token)
    return (token, left) if left > 0 else None


async def _run_watched(app: Any, scope: Scope, receive: Any, send: Any, watch: Any) -> Any:
    """Serve the socket while its credential's watch runs beside it; stop the watch when
    the socket ends."""
    task = asyncio.get_running_loop().create_task(watch)
    try:
        return await app(scope, receive, send)
    finally:
        task.cancel()


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
        group, left = complete
        session_key = scope["session"].session_key
        return await _run_watched(
            self.app,
            scope | {"auth_method": "session", "session_group": group, "session_key": session_key},
            receive,
            send,
            watch(group, ENDED, user_id=user.pk, session_key=session_key, first_seconds_left=left),
        )


class TokenOrSessionAuthMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookie_app = AllowedHostsOriginValidator(AuthMiddlewareStack(CompleteSessionOnly(app)))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        secret = _bearer_secret(scope)
        if secret is None:
            return await self.cookie_app(scope, receive, send)
        found = await database_sync_to_async(_token_and_seconds_left)(secret) if secret else None
        if found is None:
            anonymous = {**scope, "user": AnonymousUser(), "auth_method": "token", "token_id": None}
            return await self.app(anonymous, receive, send)
        token, left = found
        scope = {**scope, "user": token.user, "auth_method": "token", "token_id": token.pk}
        return await _run_watched(
            self.app,
            scope,
            receive,
            send,
            watch(
                token_group(token.pk),
                TokenRevoked(),
                user_id=token.user_id,
                token_id=token.pk,
                first_seconds_left=left,
            ),
        )
