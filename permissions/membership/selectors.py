"""Reads about who is admitted to or banned from a channel, for moderators' routes and pages.

Callers have checked that the actor moderates the channel (permissions.access); these
only shape the queries. One definition serves the JSON API and the moderation page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import apps
from django.db.models import QuerySet

from exchange.kernel.errors import BadRequest, NotFound
from permissions.access import channel_access
from permissions.models import AccessRequest, AccessRequestState, Admission, Ban, Institution, User

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
    (requests_for decides which)."""
    return requests_for(actor=actor, channel_slug=channel_slug).filter(pk=request_id).exists()


def requests_for(
    *, actor: User, channel_slug: str, state: str | None = None
) -> QuerySet[AccessRequest]:
    """Moderators see every request of their channel; others, their institution's own.

    The channel must be one the actor may see in the catalogue (listed, or theirs).
    """
    channel = apps.get_model("channels_app", "Channel").objects.filter(slug=channel_slug).first()
    if channel is None:
        raise NotFound("No such channel.")
    access = channel_access(actor, channel)
    if not channel.listed and not access.is_member:
        raise NotFound("No such channel.")
    if state is not None and state not in AccessRequestState.values:
        raise BadRequest("state is open, approved or declined.", field="state")
    requests = AccessRequest.objects.filter(channel=channel).select_related(
        "channel", "institution", "requested_by", "answered_by"
    )
    if state is not None:
        requests = requests.filter(state=state)
    if access.can_moderate:
        return requests
    if actor.institution_id is None:
        return requests.none()
    return requests.filter(institution_id=actor.institution_id)
