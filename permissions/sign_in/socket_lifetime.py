"""How long the credential an open socket was opened with stays valid, and the watch
that closes the socket when it ends.

A socket outlives the handshake that checked its credential. When a person ends a
credential (revokes a token, signs out, deactivates a user or an institution, removes
an admission) an event closes the sockets at once. A credential can also end with no
one acting, as time passes, and then there is no event to send:

- a bearer token reaches its `expires_at`;
- a session reaches its absolute lifetime (EXCHANGE_SESSION_MAX_HOURS), or idles out of
  the session store, or an operator deletes it there;
- the user reaches the end of their certification's grace period (lapse,
  permissions.institutions.certification), whichever credential they used.

So each socket's watch sleeps until the earliest of those moments and looks again in
the database, because a focal point may have recertified the user meanwhile; it also
looks every EXCHANGE_SESSION_SOCKET_CHECK_SECONDS for an end that no event announced (a
session deleted from the store, a row changed by hand). When the credential has ended,
it tells the socket's group to close (SPEC §8: losing access takes effect at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from exchange.kernel.events import LayerEvent
from permissions.institutions.certification import lapses_at
from permissions.models import ApiToken, User
from permissions.sign_in.sessions import session_seconds_left


def seconds_left_of(
    user: User, *, token: ApiToken | None = None, session: Mapping[str, Any] | None = None
) -> float:
    """Seconds until a credential ends by itself, from what is loaded already: the user
    (active, certified when), the token (revoked, expiring when), the session's data.
    The handshake has all three in hand, so it asks no query of its own."""
    if not user.is_active:
        return 0.0
    now = timezone.now()
    ends = [(lapses_at(user.certified_at) - now).total_seconds()]
    if token is not None:
        live = token.revoked_at is None
        ends.append((token.expires_at - now).total_seconds() if live else 0.0)
    if session is not None:
        ends.append(session_seconds_left(session) if session else 0.0)
    return max(0.0, min(ends))


def seconds_left(
    *, user_id: int, token_id: int | None = None, session_key: str | None = None
) -> float:
    """seconds_left_of, read afresh from the database and the session store: what the
    watch asks when it wakes. 0 for a user, token or session that is gone."""
    user = User.objects.filter(pk=user_id).only("is_active", "certified_at").first()
    if user is None:
        return 0.0
    token = None
    if token_id is not None:
        token = ApiToken.objects.filter(pk=token_id).first()
        if token is None:
            return 0.0
    session = None
    if session_key is not None:
        # The store loads an expired or deleted session as empty.
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        session = store.load()
    return seconds_left_of(user, token=token, session=session)


async def watch(
    group: str,
    ended: LayerEvent,
    *,
    user_id: int,
    token_id: int | None = None,
    session_key: str | None = None,
    first_seconds_left: float,
) -> None:
    """Send `ended` to `group` once the credential has ended: sleep until its end or the
    next check, whichever comes first, then look again. The handshake measured
    `first_seconds_left` already."""
    left = first_seconds_left
    while left > 0:
        await asyncio.sleep(min(float(settings.SESSION_SOCKET_CHECK_SECONDS), left))
        left = await database_sync_to_async(seconds_left)(
            user_id=user_id, token_id=token_id, session_key=session_key
        )
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, ended.as_layer_message())
