"""The guards: the one place that answers "may user U do X in channel C".

The HTTP API, the pages and the WebSocket consumer all ask here, afresh for every
request and every frame: nothing is cached between two checks, so a revocation takes
effect on the very next one. Membership is read from django-guardian permissions on
the Channel (granted to the institution's group by admission_create, to moderators'
user accounts by moderator_appoint), narrowed by what guardian does not know: the user
and the institution must be active and the user not banned from the channel.

Superusers get nothing for free: guardian's superuser shortcut is deliberately avoided,
because staff status alone must never show channel content (SPEC §1).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import get_objects_for_user

from exchange.errors import Forbidden, NotFound
from permissions.models import AdmissionRole, Ban, User

if TYPE_CHECKING:
    from channels_app.models import Channel

VIEW = "view_channel"
POST = "post_to_channel"
MODERATE = "moderate_channel"


class Need(enum.Enum):
    """What the caller is about to do, from least to most privileged."""

    READ = "read"
    POST = "post"
    MODERATE = "moderate"


@dataclass(frozen=True)
class ChannelAccess:
    """What one user may do in one channel, as of the moment it was computed."""

    user: User
    channel: Channel
    role: str | None  # the institution's admission role, or None
    is_moderator: bool
    is_banned: bool = False

    @property
    def is_member(self) -> bool:
        return self.is_moderator or (self.role is not None and not self.is_banned)

    @property
    def can_read(self) -> bool:
        return self.is_member

    @property
    def can_post(self) -> bool:
        return self.is_moderator or (self.is_member and self.role == AdmissionRole.PARTICIPANT)

    @property
    def can_moderate(self) -> bool:
        return self.is_moderator

    def allows(self, need: Need) -> bool:
        if need is Need.READ:
            return self.can_read
        if need is Need.POST:
            return self.can_post
        return self.can_moderate


def _role_from_perms(perms: Iterable[str]) -> str | None:
    perms = set(perms)
    if VIEW not in perms:
        return None
    return AdmissionRole.PARTICIPANT if POST in perms else AdmissionRole.OBSERVER


def _institution_group_checker(user: User) -> ObjectPermissionChecker | None:
    institution = user.institution
    if institution is None or not institution.active:
        return None
    return ObjectPermissionChecker(institution.group)


def channel_access(user: User, channel: Channel) -> ChannelAccess:
    """Compute the user's access to one channel from the database, now."""
    if not user.is_authenticated or not user.is_active:
        return ChannelAccess(user=user, channel=channel, role=None, is_moderator=False)
    is_moderator = MODERATE in ObjectPermissionChecker(user).get_user_perms(channel)
    checker = _institution_group_checker(user)
    role = _role_from_perms(checker.get_group_perms(channel)) if checker else None
    is_banned = role is not None and Ban.objects.filter(channel=channel, user=user).exists()
    return ChannelAccess(
        user=user, channel=channel, role=role, is_moderator=is_moderator, is_banned=is_banned
    )


def channel_access_many(user: User, channels: list[Channel]) -> dict[int, ChannelAccess]:
    """The same answer as channel_access for a list, in a constant number of queries."""
    if not user.is_authenticated or not user.is_active:
        return {
            c.pk: ChannelAccess(user=user, channel=c, role=None, is_moderator=False)
            for c in channels
        }
    moderated = set(
        get_objects_for_user(
            user,
            f"channels_app.{MODERATE}",
            klass=apps.get_model("channels_app", "Channel"),
            use_groups=False,
            with_superuser=False,
            accept_global_perms=False,
        ).values_list("pk", flat=True)
    )
    checker = _institution_group_checker(user)
    if checker is not None and channels:
        checker.prefetch_perms(channels)  # type: ignore[arg-type]
    banned = set(Ban.objects.filter(user=user).values_list("channel_id", flat=True))
    result = {}
    for channel in channels:
        role = _role_from_perms(checker.get_perms(channel)) if checker else None
        result[channel.pk] = ChannelAccess(
            user=user,
            channel=channel,
            role=role,
            is_moderator=channel.pk in moderated,
            is_banned=role is not None and channel.pk in banned,
        )
    return result


def require(access: ChannelAccess, need: Need) -> ChannelAccess:
    """Raise the error SPEC §1 prescribes when `access` does not allow `need`.

    A non-member is told 404 for an unlisted channel (its existence is secret) and 403
    for a listed one; a member who lacks the role is told 403.
    """
    if access.allows(need):
        return access
    if not access.is_member and not access.channel.listed:
        raise NotFound("No such channel.")
    if not access.is_member:
        raise Forbidden("Your institution is not a member of this channel.")
    if need is Need.POST:
        raise Forbidden("Your institution may only read this channel.")
    raise Forbidden("Only the channel's moderators may do this.")


def access_channel(user: User, slug: str, need: Need) -> ChannelAccess:
    """Look up a channel by slug and check `need`, with SPEC's 404/403 rules."""
    channel = apps.get_model("channels_app", "Channel").objects.filter(slug=slug).first()
    if channel is None:
        raise NotFound("No such channel.")
    return require(channel_access(user, channel), need)
