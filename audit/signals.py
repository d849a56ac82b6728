"""Sign-in success, failure and sign-out enter the audit log (issue 4, SPEC §2).

A failed sign-in records the username that was tried (it may name nobody) and never
the password; Django's signal already strips credentials that look secret.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audit.chain import record


def _client(request: HttpRequest | None) -> dict[str, Any]:
    if request is None:
        return {}
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "agent": request.headers.get("User-Agent", "")[:200],
    }


@receiver(user_logged_in)
def on_signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(
        action="user.signed_in", actor=user, target=f"user:{user.username}", data=_client(request)
    )


@receiver(user_logged_out)
def on_signed_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(
            action="user.signed_out",
            actor=user,
            target=f"user:{user.username}",
            data=_client(request),
        )


@receiver(user_login_failed)
def on_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    tried = str(credentials.get("username", ""))[:150]
    record(action="user.sign_in_failed", target=f"user:{tried}", data=_client(request))
