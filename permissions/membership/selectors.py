"""Reads about who is admitted to or banned from a channel, for moderators' routes and pages.

Callers have checked that the actor moderates the channel (permissions.access); these
only shape the queries. One definition serves the JSON API and the moderation page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from permissions.membership.requests import requests_for
from permissions.models import Admission, Ban, Institution, User

if TYPE_CHECKING:
    from channels_app.models import Channel


def admission_list(*, channel: Channel) -> QuerySet[Admission]:
    """The channel's admissions with institution and admitter, by institution name."""
    return (
        Admission.objects.filter(channel=channel)
        .select_related("institution", "admitted_by")
        .order_by("institution__name")
    )


def admission_get(*, channel: Channel, institution_slug: str) -> Admission | None:
    """The admission of the institution with `institution_slug` to the channel, or None."""
    return admission_list(channel=channel).filter(institution__slug=institution_slug).first()


def admission_exists(*, channel: Channel, institution: Institution) -> bool:
    """Whether `institution` is admitted to the channel (one query)."""
    return Admission.objects.filter(channel=channel, institution=institution).exists()


def ban_list(*, channel: Channel) -> QuerySet[Ban]:
    """The channel's bans with the user, their institution and who banned, oldest first."""
    return (
        Ban.objects.filter(channel=channel)
        .select_related("user", "user__institution", "banned_by")
        .order_by("created_at")
    )


def access_request_exists(*, actor: User, channel_slug: str, request_id: int) -> bool:
    """Whether request `request_id` is one of the channel's that `actor` may see
    (membership.requests.requests_for decides which)."""
    return requests_for(actor=actor, channel_slug=channel_slug).filter(pk=request_id).exists()
