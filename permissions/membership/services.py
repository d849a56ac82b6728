"""Writes about who takes part in a channel: admissions of institutions, bans, moderators.

Each service is keyword-only, checks that the actor moderates (None: the platform
itself, from the command line), changes state in one transaction, records the audit
event and announces the change to open sockets after commit. Whoever loses access
retires the channel key (SPEC §5): `channel_key_retire`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from audit.chain import record
from exchange.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from exchange.kernel.events import AccessChanged
from exchange.kernel.realtime import (
    members_changed_on_commit,
    send_on_commit,
    user_group,
)
from permissions.access import (
    MODERATE,
    POST,
    VIEW,
    Need,
    channel_access,
    require,
)
from permissions.membership.signals import channel_key_retired
from permissions.models import (
    Admission,
    AdmissionRole,
    Ban,
    Institution,
    User,
)

if TYPE_CHECKING:
    from channels_app.models import Channel


def _check_moderator(actor: User | None, channel: Channel) -> None:
    if actor is not None:
        require(channel_access(actor, channel), Need.MODERATE)


def channel_key_retire(channel: Channel, *, actor: User | None, reason: str) -> None:
    """Nothing more may be encrypted to the current channel key (SPEC §5): someone left,
    or a since_join newcomer must receive only the next one.

    The keys belong to channels_app, which hears `channel_key_retired` and marks the current
    epoch stale in this same transaction (permissions/membership/signals.py); then every
    open socket of the channel hears that its members changed.
    """
    channel_key_retired.send(sender=None, channel=channel, actor=actor, reason=reason)
    members_changed_on_commit(channel.pk)


def access_change_announce(channel: Channel, users: list[int]) -> None:
    """Tell every open socket of these users to re-check their access to `channel`."""
    for user_id in users:
        send_on_commit(user_group(user_id), AccessChanged(channel_id=channel.pk))


def admission_set(
    *, actor: User | None, channel: Channel, institution: Institution, role: str
) -> Admission:
    """Admit an institution to a channel with `role`, or change its role.

    Grants the guardian permissions to the institution's group; on a downgrade to
    observer, tells the institution's open sockets to re-check.
    """
    if role not in AdmissionRole.values:
        raise BadRequest(f"Unknown role {role!r}; participant or observer.", field="role")
    _check_moderator(actor, channel)
    if not institution.active:
        raise Conflict("This institution is not active.", field="institution")
    with transaction.atomic():
        admission, created = Admission.objects.select_for_update().get_or_create(
            channel=channel, institution=institution, defaults={"role": role, "admitted_by": actor}
        )
        if not created and admission.role != role:
            record(
                action="admission.role_changed",
                actor=actor,
                channel=channel,
                target=f"institution:{institution.slug}",
                data={"from": admission.role, "to": role},
            )
            admission.role = role
            admission.save(update_fields=["role"])
        elif created:
            record(
                action="admission.created",
                actor=actor,
                channel=channel,
                target=f"institution:{institution.slug}",
                data={"role": role},
            )
        assign_perm(VIEW, institution.group, channel)
        if role == AdmissionRole.PARTICIPANT:
            assign_perm(POST, institution.group, channel)
        else:
            remove_perm(POST, institution.group, channel)
        access_change_announce(channel, list(institution.users.values_list("pk", flat=True)))
        if created and channel.history_visibility == "since_join":
            # Newcomers get a fresh epoch with no back-link, not the key to what came
            # before they joined (SPEC §5).
            channel_key_retire(channel, actor=actor, reason="institution admitted (since_join)")
        elif created:
            members_changed_on_commit(channel.pk)
    return admission


def admission_remove(*, actor: User | None, channel: Channel, institution: Institution) -> None:
    """Remove an institution from a channel: all its users lose access at once."""
    _check_moderator(actor, channel)
    with transaction.atomic():
        deleted, _ = Admission.objects.filter(channel=channel, institution=institution).delete()
        if not deleted:
            raise NotFound("That institution is not admitted to this channel.")
        record(
            action="admission.removed",
            actor=actor,
            channel=channel,
            target=f"institution:{institution.slug}",
        )
        remove_perm(VIEW, institution.group, channel)
        remove_perm(POST, institution.group, channel)
        channel_key_retire(channel, actor=actor, reason="institution removed")
        access_change_announce(channel, list(institution.users.values_list("pk", flat=True)))


def ban_create(*, actor: User | None, channel: Channel, user: User) -> Ban:
    _check_moderator(actor, channel)
    if actor is not None and user.pk == actor.pk:
        raise BadRequest("You cannot ban yourself.", field="username")
    with transaction.atomic():
        ban, created = Ban.objects.get_or_create(
            channel=channel, user=user, defaults={"banned_by": actor}
        )
        if not created:
            return ban
        record(action="ban.created", actor=actor, channel=channel, target=f"user:{user.username}")
        channel_key_retire(channel, actor=actor, reason="user banned")
        access_change_announce(channel, [user.pk])
    return ban


def ban_remove(*, actor: User | None, channel: Channel, user: User) -> None:
    _check_moderator(actor, channel)
    with transaction.atomic():
        deleted, _ = Ban.objects.filter(channel=channel, user=user).delete()
        if not deleted:
            raise NotFound("That user is not banned from this channel.")
        record(action="ban.removed", actor=actor, channel=channel, target=f"user:{user.username}")
        # Welcome back: their clients will need the current epoch's share.
        members_changed_on_commit(channel.pk)
        access_change_announce(channel, [user.pk])


def moderator_appoint(*, actor: User | None, channel: Channel, user: User) -> None:
    """Grant `moderate_channel` to one user. Only platform admins (or the CLI) appoint."""
    if actor is not None and not actor.is_staff:
        raise Forbidden("Only platform admins appoint moderators.")
    if not user.is_active:
        raise BadRequest("An inactive user cannot moderate.", field="username")
    with transaction.atomic():
        could_read = channel_access(user, channel).can_read
        assign_perm(MODERATE, user, channel)
        record(
            action="moderator.appointed",
            actor=actor,
            channel=channel,
            target=f"user:{user.username}",
        )
        access_change_announce(channel, [user.pk])
        if not could_read:  # a newcomer: members' clients deliver the current key to them
            members_changed_on_commit(channel.pk)


def moderator_dismiss(*, actor: User | None, channel: Channel, user: User) -> None:
    """Withdraw `moderate_channel`. If the user then cannot read the channel (their
    institution is not admitted), they have left it: the channel key is rotated."""
    if actor is not None and not actor.is_staff:
        raise Forbidden("Only platform admins dismiss moderators.")
    with transaction.atomic():
        remove_perm(MODERATE, user, channel)
        record(
            action="moderator.dismissed",
            actor=actor,
            channel=channel,
            target=f"user:{user.username}",
        )
        if not channel_access(user, channel).can_read:
            channel_key_retire(channel, actor=actor, reason="moderator dismissed")
        access_change_announce(channel, [user.pk])
