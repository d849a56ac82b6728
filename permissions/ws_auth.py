"""WebSocket handshake authentication: a bearer token, or the session cookie.

API clients send `Authorization: Bearer <token>` and need no Origin. Browsers are
authenticated by their session cookie, which any page the user visits could make
their browser send, so that path demands an Origin among the allowed hosts
(cross-site WebSocket hijacking). A handshake with neither is left anonymous and
the consumer refuses it.

A session cookie opens a socket only for a session that is signed in completely: not
past its absolute lifetime, and past the one-time code if its user needs one
(permissions.two_factor). Such a socket joins its session's group, so that signing out
closes it at once.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from exchange.realtime import session_group
from permissions.models import User
from permissions.services import token_lookup
from permissions.sessions import session_too_old
from permissions.two_factor import session_state

Scope = dict[str, Any]


def _bearer_secret(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return secret.strip() if scheme.lower() == "bearer" else ""
    return None


def _session_group_if_complete(user: User, session: Any) -> str | None:
    """The group of a fully signed-in session, or None for one that may not open a socket."""
    if session_too_old(session) or not session_state(user, session).passes:
        return None
    return session_group(session.session_key) if session.session_key else None


class CompleteSessionOnly:
    """Behind Channels' session and auth middleware: leaves anonymous a handshake whose
    session has only passed the password, or has outlived its absolute lifetime."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        user = scope.get("user")
        if isinstance(user, User) and user.is_authenticated:
            group = await database_sync_to_async(_session_group_if_complete)(user, scope["session"])
            if group is None:
                scope = {**scope, "user": AnonymousUser()}
            else:
                scope = {**scope, "auth_method": "session", "session_group": group}
        return await self.app(scope, receive, send)


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
