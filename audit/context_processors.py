"""Whether the header links the audit page: asked only when a template reads it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from audit.readers import may_read_audit
from permissions.models import User


def audit_link(request: HttpRequest) -> dict[str, Callable[[], bool]]:
    def may_read() -> bool:
        user = getattr(request, "user", None)
        return isinstance(user, User) and may_read_audit(user)

    # A callable: the template calls it, so pages that do not show the header pay nothing.
    return {"may_read_audit": may_read}
