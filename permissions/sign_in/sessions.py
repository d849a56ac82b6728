"""Browser sessions: their absolute lifetime, and ending them together with their sockets.

A socket opened with a session cookie outlives the HTTP request that checked the
cookie, so ending a session must also close its sockets: sign-out closes the sockets of
that session, a password change closes every socket of the user (their other sessions
are refused at their next request or handshake by Django's session hash). A session
that ends any other way (idle past EXCHANGE_SESSION_IDLE_MINUTES, deleted from the
store) is noticed by its sockets' watch (permissions.sign_in.socket_lifetime), and what
the user does on a socket counts as activity, as a page request does (`keep_alive`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest

from exchange.kernel.events import SessionEnded
from exchange.kernel.realtime import send_on_commit, session_group, user_group

SIGNED_IN_AT = "exchange_signed_in_at"
ENDED = SessionEnded()


def record_sign_in(sender: object, request: HttpRequest | None, **kwargs: Any) -> None:
    """user_logged_in receiver: stamp the session with its sign-in time."""
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = int(time.time())


def session_seconds_left(session: Mapping[str, Any]) -> float:
    """How long a signed-in session may still live (EXCHANGE_SESSION_MAX_HOURS after its
    sign-in); 0 for one without a sign-in time, which was not opened by Django's login."""
    signed_in_at = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in_at, int):
        return 0.0
    return max(0.0, signed_in_at + settings.SESSION_MAX_HOURS * 3600 - time.time())


def session_too_old(session: Mapping[str, Any]) -> bool:
    """Whether a signed-in session has outlived EXCHANGE_SESSION_MAX_HOURS."""
    return session_seconds_left(session) <= 0


def close_session_sockets(session_key: str) -> None:
    """Close, after commit, every socket opened with this session."""
    send_on_commit(session_group(session_key), ENDED)


def close_user_sockets(user_id: int) -> None:
    """Close, after commit, every socket of this user, whatever opened it."""
    send_on_commit(user_group(user_id), ENDED)


def sign_out(request: HttpRequest) -> None:
    """End the request's session (Django's logout: user_logged_out fires) and its sockets."""
    session_key = request.session.session_key
    logout(request)
    if session_key:
        close_session_sockets(session_key)


def keep_alive(session_key: str) -> None:
    """Push the session's idle expiry on, as SESSION_SAVE_EVERY_REQUEST does for a page."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if store.load():
        store.modified = True
        store.save()
