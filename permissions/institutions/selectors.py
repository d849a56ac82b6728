"""Reads about institutions for the routes and pages that must not query themselves."""

from __future__ import annotations

from permissions.models import Institution


def institution_get(*, slug: str) -> Institution | None:
    """The institution with `slug`, active or not, or None.

    Callers say "not found" in their own words (the API names the field, a page does not).
    """
    return Institution.objects.filter(slug=slug).first()


def institution_active_user_count(*, institution: Institution) -> int:
    """How many active users the institution has: who loses access if it is removed."""
    return institution.users.filter(is_active=True).count()
