"""Personal API tokens: issued, looked up by their hash, revoked.

Only a hash is stored; the secret is shown once. Revoking one closes the sockets opened
with it (SPEC §3 "Authentication").
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.chain import record
from exchange.kernel.errors import BadRequest, NotFound
from exchange.kernel.events import TokenRevoked
from exchange.kernel.realtime import (
    send_on_commit,
    token_group,
)
from permissions.models import (
    ApiToken,
    User,
)
from permissions.people.validators import clean_name

if TYPE_CHECKING:
    pass


TOKEN_PREFIX = "exch_"  # noqa: S105  (a marker that makes leaked tokens easy to scan for)


def _hash_secret(secret: str) -> str:
    # The secret carries 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def token_issue(*, user: User, name: str = "", expires_days: int | None = None) -> str:
    """Create a personal API token and return its secret: the only time it is seen."""
    name = clean_name(name, field="name")
    days = expires_days if expires_days is not None else settings.API_TOKEN_DEFAULT_DAYS
    if not 1 <= days <= 3650:
        raise BadRequest("A token lives between 1 and 3650 days.", field="expires_days")
    if not user.is_active:
        raise BadRequest("An inactive user cannot hold tokens.", field="username")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=secret[:12],
            secret_hash=_hash_secret(secret),
            expires_at=timezone.now() + timedelta(days=days),
        )
        record(
            action="token.issued",
            actor=user,
            target=f"token:{token.pk}",
            data={"name": token.name, "expires_at": token.expires_at.isoformat()},
        )
    return secret


def token_authenticate(secret: str) -> User | None:
    """The active user a bearer token belongs to, or None if unknown, expired or revoked."""
    token = token_lookup(secret)
    return token.user if token is not None else None


def token_lookup(secret: str) -> ApiToken | None:
    """The valid token (with its active user loaded) a secret names, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__institution")
        .filter(secret_hash=_hash_secret(secret), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def token_revoke(*, user: User, token_id: int) -> None:
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise NotFound("No such active token.")
        record(action="token.revoked", actor=user, target=f"token:{token_id}")
    # Sockets opened with the token close at once, not at their next reconnect.
    send_on_commit(token_group(token_id), TokenRevoked())
