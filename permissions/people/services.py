"""Writes about people: creating and updating users, activating and deactivating them.

A deactivated user loses access everywhere at once: their tokens are revoked, their
sockets closed, and the keys of every channel they could read retired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.chain import record
from exchange.kernel.errors import BadRequest, Forbidden
from exchange.kernel.events import AccessChanged
from exchange.kernel.realtime import (
    send_on_commit,
    user_group,
)
from permissions.access import (
    channel_access_many,
    may_administer,
)
from permissions.models import (
    Institution,
    User,
)
from permissions.people.validators import clean_name, clean_username
from permissions.sign_in.sessions import close_user_sockets

if TYPE_CHECKING:
    pass
from permissions.membership.services import channel_key_retire


def user_upsert(
    *,
    username: str,
    institution: Institution | None,
    display_name: str = "",
    email: str = "",
    password: str | None = None,
    is_focal_point: bool = False,
    is_staff: bool = False,
    actor: User | None = None,
) -> User:
    """Create a user of an institution (or a platform admin), or update an existing one.

    Only platform admins may be without an institution (SPEC §1).
    """
    if institution is None and not is_staff:
        raise BadRequest("Every user except platform admins belongs to an institution.")
    username = clean_username(username)
    display_name = clean_name(display_name, field="display_name")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        created = user is None
        if user is None:
            user = User(username=username)
            user.set_unusable_password()
        if user.institution_id and institution and user.institution_id != institution.pk:
            raise BadRequest("A user cannot move to another institution.", field="institution")
        user.institution = institution
        user.display_name = display_name or user.display_name
        user.email = email or user.email
        user.is_focal_point = is_focal_point
        user.is_staff = is_staff
        if password is not None:
            user.set_password(password)
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            field, errors = next(iter(exc.message_dict.items()))
            raise BadRequest(f"{field}: {' '.join(errors)}", field=field) from None
        user.save()
        if institution is not None:
            user.groups.add(institution.group)
        record(
            action="user.created" if created else "user.updated",
            actor=actor,
            target=f"user:{username}",
            data={
                "institution": institution.slug if institution else None,
                "focal_point": is_focal_point,
                "staff": is_staff,
                "password_set": password is not None,
            },
        )
        if not created and password is not None:
            # A new password ends the user's sessions (Django's session hash) and, here,
            # their open sockets at once.
            close_user_sockets(user.pk)
    return user


def user_set_active(*, actor: User | None, user: User, active: bool) -> User:
    """Activate or deactivate a user; a deactivated user loses access everywhere at once.

    The actor is a platform admin or a focal point of the user's institution, in good
    standing (permissions.access.may_administer: an inactive or lapsed focal point may
    not), or None for the platform itself (the sweep, the command line)."""
    if actor is not None and not may_administer(actor, user.institution):
        raise Forbidden("Only a focal point of the user's institution may do this.")
    with transaction.atomic():
        if active != user.is_active:
            record(
                action="user.reactivated" if active else "user.deactivated",
                actor=actor,
                target=f"user:{user.username}",
                data={"institution": user.institution.slug if user.institution else None},
            )
        if not active and user.is_active:
            channels = list(apps.get_model("channels_app", "Channel").objects.all())
            for access in channel_access_many(user, channels, even_if_lapsed=True).values():
                if access.can_read:
                    channel_key_retire(access.channel, actor=actor, reason="user deactivated")
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            for token in user.api_tokens.filter(revoked_at__isnull=True):
                token.revoked_at = timezone.now()
                token.save(update_fields=["revoked_at"])
            send_on_commit(user_group(user.pk), AccessChanged(channel_id=None))
    return user
