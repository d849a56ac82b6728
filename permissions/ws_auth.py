"""WebSocket handshake authentication: a bearer token, or the session cookie.

API clients send `Authorization: Bearer <token>` and need no Origin. Browsers are
authenticated by their session cookie, which any page the user visits could make
their browser send, so that path demands an Origin among the allowed hosts
(cross-site WebSocket hijacking). A handshake with neither is left anonymous and
the consumer refuses it.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

from permissions.services import token_lookup

Scope = dict[str, Any]


def _bearer_secret(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return secret.strip() if scheme.lower() == "bearer" else ""
    return None


class TokenOrSessionAuthMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookie_app = AllowedHostsOriginValidator(AuthMiddlewareStack(app))

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
