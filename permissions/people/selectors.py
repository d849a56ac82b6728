"""Reads about people: a user by name or id, whether they are still active, their tokens.

Routes, frames and pages import no model (pyproject.toml, import-linter contract
"routes"); they find people here. Who may see whom is not decided here: the callers
have already passed permissions.access or ask a service that checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from exchange.kernel.errors import NotAuthenticated
from permissions.models import User

if TYPE_CHECKING:
    from permissions.models import ApiToken


def user_from(*, candidate: object) -> User | None:
    """`candidate` as one of our users, or None (AnonymousUser, no bearer token, …).

    What request.user and ninja's request.auth hold is typed loosely; this narrows it
    where a route must not name the model itself.
    """
    return candidate if isinstance(candidate, User) else None


def user_signed_in(*, request: HttpRequest) -> User:
    """The user of a page request that `login_required` has let through."""
    user = user_from(candidate=request.user)
    assert user is not None  # noqa: S101  (login_required guarantees it)
    return user


def user_get(*, username: str) -> User | None:
    """The user named `username`, active or not, or None."""
    return User.objects.filter(username=username).first()


def user_get_by_id(*, user_id: int) -> User | None:
    """The user with `user_id` and their institution (one query), active or not, or None."""
    return User.objects.select_related("institution").filter(pk=user_id).first()


def user_get_active(*, user_id: int) -> User:
    """The user with `user_id` and their institution (one query), if still active.

    Raises NotAuthenticated for a user deleted or deactivated since they signed in: a
    socket that asks closes on it.
    """
    user = user_get_by_id(user_id=user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("Your account is no longer active.")
    return user


def user_is_active(*, user_id: int) -> bool:
    """Whether the user with `user_id` exists and is active (one query)."""
    return User.objects.filter(pk=user_id, is_active=True).exists()


def api_token_list(*, user: User) -> list[ApiToken]:
    """Every API token the user issued, revoked and expired ones too (their list page)."""
    return list(user.api_tokens.all())
