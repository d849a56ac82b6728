"""Writes about who takes part: institutions, users, admissions, bans, moderators, tokens.

Each service is keyword-only, validates what it is given, changes state in one
transaction and announces access changes to open sockets after commit. `actor` is the
person acting, or None for the platform itself (the command line, migrations).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_countries import countries
from guardian.shortcuts import assign_perm, remove_perm

from audit.chain import record
from exchange.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from exchange.kernel.events import AccessChanged, TokenRevoked
from exchange.kernel.realtime import (
    members_changed_on_commit,
    send_on_commit,
    token_group,
    user_group,
)
from permissions.access import (
    MODERATE,
    POST,
    VIEW,
    Need,
    channel_access,
    channel_access_many,
    may_administer,
    require,
)
from permissions.models import (
    Admission,
    AdmissionRole,
    ApiToken,
    Ban,
    Institution,
    InstitutionKind,
    User,
)
from permissions.people.validators import clean_name, clean_username
from permissions.sign_in.sessions import close_user_sockets

if TYPE_CHECKING:
    from channels_app.models import Channel

TOKEN_PREFIX = "exch_"  # noqa: S105  (a marker that makes leaked tokens easy to scan for)


def _check_moderator(actor: User | None, channel: Channel) -> None:
    if actor is not None:
        require(channel_access(actor, channel), Need.MODERATE)


def _mark_epoch_stale(channel: Channel, *, actor: User | None, reason: str) -> None:
    """Someone left: nothing more may be encrypted to the current channel key (SPEC §5).

    The epoch model belongs to channels_app; it is reached by name so that this app
    never imports that one.
    """
    epoch_model = apps.get_model("channels_app", "Epoch")
    current = epoch_model.objects.filter(channel=channel).order_by("-number").first()
    if current is not None and not current.stale:
        current.stale = True
        current.save(update_fields=["stale"])
        record(
            action="epoch.stale",
            actor=actor,
            channel=channel,
            target=f"epoch:{channel.slug}/{current.number}",
            data={"epoch": current.number, "reason": reason},
        )
    members_changed_on_commit(channel.pk)


def _announce_access_change(channel: Channel, users: list[int]) -> None:
    """Tell every open socket of these users to re-check their access to `channel`."""
    for user_id in users:
        send_on_commit(user_group(user_id), AccessChanged(channel_id=channel.pk))


def institution_upsert(
    *, slug: str, name: str, country: str, kind: str, actor: User | None = None
) -> Institution:
    """Create an institution, or bring an existing one (same slug) to these values."""
    name = clean_name(name, field="name")
    country = country.upper()
    if country not in countries:
        raise BadRequest(f"{country!r} is not an ISO 3166-1 alpha-2 country code.", field="country")
    if kind not in InstitutionKind.values:
        raise BadRequest(
            f"Unknown kind {kind!r}; one of {', '.join(InstitutionKind.values)}.", field="kind"
        )
    with transaction.atomic():
        institution = Institution.objects.select_for_update().filter(slug=slug).first()
        created = institution is None
        if institution is None:
            group = Group.objects.create(name=f"institution:{slug}")
            institution = Institution(slug=slug, group=group)
        institution.name, institution.country, institution.kind = name, country, kind
        try:
            institution.full_clean()
        except ValidationError as exc:
            field, errors = next(iter(exc.message_dict.items()))
            raise BadRequest(f"{field}: {' '.join(errors)}", field=field) from None
        institution.save()
        record(
            action="institution.created" if created else "institution.updated",
            actor=actor,
            target=f"institution:{slug}",
            data={"name": name, "country": country, "kind": kind},
        )
    return institution


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
                    _mark_epoch_stale(access.channel, actor=actor, reason="user deactivated")
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            for token in user.api_tokens.filter(revoked_at__isnull=True):
                token.revoked_at = timezone.now()
                token.save(update_fields=["revoked_at"])
            send_on_commit(user_group(user.pk), AccessChanged(channel_id=None))
    return user


def institution_set_active(*, actor: User | None, institution: Institution, active: bool) -> None:
    """Deactivate or reactivate an institution: its users lose, or regain, every channel
    it is admitted to at once (SPEC §1). Platform admins only."""
    if actor is not None and not actor.is_staff:
        raise Forbidden("Only platform admins deactivate institutions.")
    with transaction.atomic():
        institution = Institution.objects.select_for_update().get(pk=institution.pk)
        if institution.active == active:
            return
        institution.active = active
        institution.save(update_fields=["active"])
        record(
            action="institution.reactivated" if active else "institution.deactivated",
            actor=actor,
            target=f"institution:{institution.slug}",
        )
        users = list(institution.users.values_list("pk", flat=True))
        for admission in Admission.objects.filter(institution=institution).select_related(
            "channel"
        ):
            if not active:
                _mark_epoch_stale(admission.channel, actor=actor, reason="institution deactivated")
            else:
                members_changed_on_commit(admission.channel_id)
            _announce_access_change(admission.channel, users)


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
        _announce_access_change(channel, list(institution.users.values_list("pk", flat=True)))
        if created and channel.history_visibility == "since_join":
            # Newcomers get a fresh epoch with no back-link, not the key to what came
            # before they joined (SPEC §5).
            _mark_epoch_stale(channel, actor=actor, reason="institution admitted (since_join)")
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
        _mark_epoch_stale(channel, actor=actor, reason="institution removed")
        _announce_access_change(channel, list(institution.users.values_list("pk", flat=True)))


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
        _mark_epoch_stale(channel, actor=actor, reason="user banned")
        _announce_access_change(channel, [user.pk])
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
        _announce_access_change(channel, [user.pk])


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
        _announce_access_change(channel, [user.pk])
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
            _mark_epoch_stale(channel, actor=actor, reason="moderator dismissed")
        _announce_access_change(channel, [user.pk])


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
