"""What a focal point does for their institution: invite, deactivate, reactivate and
confirm (recertify) its users; and the daily sweep that deactivates lapsed users.

SPEC §1: a focal point administers the users of their own institution and nobody else's;
platform admins (staff) may do it for any institution. Each action checks that first,
changes state in one transaction with its audit event (`audit.chain.record`), and leaves
access changes to `user_set_active`, which revokes access everywhere at once, retires the
channel keys the user held and closes their sockets after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

from audit.chain import record
from exchange.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from permissions.access import may_administer
from permissions.institutions import certification
from permissions.models import ChannelUserObjectPermission, Institution, User
from permissions.people.services import user_set_active, user_upsert


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Django's password-reset tokens under a salt of their own, so that an invitation
    link and a password-reset link are never interchangeable. A token dies when the
    password changes (it is set through the link) or when the user is invited again
    (a new unusable password), and after PASSWORD_RESET_TIMEOUT (EXCHANGE_INVITE_DAYS)."""

    key_salt = "exchange.permissions.institution_admin.InvitationTokenGenerator"


invitation_tokens = InvitationTokenGenerator()


@dataclass(frozen=True)
class Invitation:
    user: User
    url: str  # shown once to the focal point and sent by email; never stored


def _target(user: User) -> str:
    return f"user:{user.username}"


def institution_by_slug(slug: str) -> Institution:
    institution = Institution.objects.filter(slug=slug).first()
    if institution is None:
        raise NotFound(f"No institution {slug!r}.")
    return institution


def require_administrator(actor: User, institution: Institution) -> None:
    if not may_administer(actor, institution):
        raise Forbidden("Only a focal point of this institution or a platform admin may do this.")


def institution_user(institution: Institution, username: str) -> User:
    """A user of `institution`; users of other institutions are as unknown as nobody."""
    user = User.objects.filter(institution=institution, username=username).first()
    if user is None:
        raise NotFound(f"No user {username!r} in {institution.slug}.", field="username")
    return user


def institution_users(*, actor: User, institution: Institution) -> list[User]:
    """Everyone of the institution, active or not, for its focal points and platform admins."""
    require_administrator(actor, institution)
    return list(institution.users.order_by("username"))


def invitation_site(request: HttpRequest) -> str:
    """Where invitation links point: EXCHANGE_PUBLIC_URL, or the request's own site."""
    return settings.PUBLIC_URL or request.build_absolute_uri("/")


def invitation_path(user: User) -> str:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse(
        "invite_accept", kwargs={"uidb64": uidb64, "token": invitation_tokens.make_token(user)}
    )


def user_invite(
    *,
    actor: User,
    institution: Institution,
    username: str,
    email: str,
    display_name: str = "",
    preferred_language: str = settings.LANGUAGE_CODE,
    site_url: str,
) -> Invitation:
    """Create a user of `institution` without a usable password and make the link with
    which they set one; email the link after commit and return it (shown once).

    Inviting again an inactive user of the same institution, or one who never used their
    link, reactivates them if need be and issues a new link (the old one dies with the
    new unusable password). A username taken elsewhere, or by an active user who already
    set a password, is refused; so is, for a focal point, a platform admin's or a
    moderator's account. `site_url` is the scheme and host the link starts with.
    """
    require_administrator(actor, institution)
    if not email:
        raise BadRequest("An invitation goes to an email address.", field="email")
    if preferred_language not in dict(settings.LANGUAGES):
        codes = ", ".join(code for code, _ in settings.LANGUAGES)
        raise BadRequest(
            f"Unknown language {preferred_language!r}; one of {codes}.",
            field="preferred_language",
        )
    with transaction.atomic():
        existing = User.objects.select_for_update().filter(username=username).first()
        if existing is not None and existing.institution_id != institution.pk:
            raise Conflict(f"The username {username!r} is taken.", field="username")
        if existing is not None and existing.is_active and existing.has_usable_password():
            raise Conflict(
                f"{username!r} is already an active user of {institution.slug}.", field="username"
            )
        if existing is not None and not actor.is_staff and _holds_more_than_membership(existing):
            # The link is returned to the focal point: inviting again would hand them an
            # account whose rights platform admins granted (staff, moderator).
            raise Forbidden(
                f"{username!r} is a platform admin or a moderator: only a platform admin "
                "may invite them again.",
                field="username",
            )
        user = user_upsert(
            username=username,
            institution=institution,
            display_name=display_name,
            email=email,
            is_focal_point=existing.is_focal_point if existing else False,
            is_staff=existing.is_staff if existing else False,
        )
        if not user.is_active:
            user_set_active(actor=actor, user=user, active=True)
        user.set_unusable_password()
        user.preferred_language = preferred_language
        user.certified_at = timezone.now()
        user.save(update_fields=["password", "preferred_language", "certified_at"])
        record(
            action="user.invited",
            actor=actor,
            target=_target(user),
            data={"institution": institution.slug, "again": existing is not None},
        )
        url = site_url.rstrip("/") + invitation_path(user)
        # robust: a mail relay that fails must not hide the link, which is returned too.
        transaction.on_commit(lambda: _send_invitation(user, institution, url), robust=True)
    return Invitation(user=user, url=url)


def _holds_more_than_membership(user: User) -> bool:
    return (
        user.is_staff
        or user.is_superuser
        or ChannelUserObjectPermission.objects.filter(user=user).exists()
    )


def _send_invitation(user: User, institution: Institution, url: str) -> None:
    with translation.override(user.preferred_language):
        subject = gettext("You are invited to Exchange")
        body = gettext(
            "Hello {name},\n\n"
            "the focal point of {institution} has invited you to Exchange. Choose your "
            "password here (the link works once, for {days} days):\n\n{url}\n"
        ).format(
            name=user.shown_name,
            institution=institution.name,
            days=settings.PASSWORD_RESET_TIMEOUT // 86400,
            url=url,
        )
    send_mail(subject, body, None, [user.email])


def user_deactivate(*, actor: User, institution: Institution, username: str) -> User:
    """End a user's access everywhere at once (through user_set_active). A focal point
    cannot deactivate themselves: the institution would lose its administrator by a slip."""
    require_administrator(actor, institution)
    user = institution_user(institution, username)
    if user.pk == actor.pk:
        raise BadRequest("You cannot deactivate yourself.", field="username")
    with transaction.atomic():
        if user.is_active:
            user_set_active(actor=actor, user=user, active=False)
    return user


def user_reactivate(*, actor: User, institution: Institution, username: str) -> User:
    """Give a user their access back, confirmed as of now (or they would lapse again)."""
    require_administrator(actor, institution)
    user = institution_user(institution, username)
    with transaction.atomic():
        if not user.is_active:
            user_set_active(actor=actor, user=user, active=True)
            user.certified_at = timezone.now()
            user.save(update_fields=["certified_at"])
    return user


def users_recertify(
    *, actor: User, institution: Institution, usernames: Iterable[str]
) -> list[User]:
    """Confirm that these active users still belong to the institution, as of now.

    All or nothing: a username that is not an active user of `institution` (unknown, of
    another institution, or deactivated) refuses the whole request and names them all.
    """
    require_administrator(actor, institution)
    wanted = sorted(set(usernames))
    if not wanted:
        raise BadRequest("Name at least one user to confirm.", field="usernames")
    with transaction.atomic():
        users = list(
            User.objects.select_for_update()
            .filter(institution=institution, is_active=True, username__in=wanted)
            .order_by("username")
        )
        refused = sorted(set(wanted) - {user.username for user in users})
        if refused:
            raise BadRequest(
                f"Not active users of {institution.slug}: {', '.join(refused)}.",
                field="usernames",
                usernames=refused,
            )
        now = timezone.now()
        for user in users:
            previous = user.certified_at
            user.certified_at = now
            user.save(update_fields=["certified_at"])
            record(
                action="user.recertified",
                actor=actor,
                target=_target(user),
                data={"institution": institution.slug, "previous": previous.isoformat()},
            )
    return users


def users_recertify_by_platform(
    *, usernames: Iterable[str], reactivate: bool = False
) -> list[User]:
    """The command line's confirmation (actor: the platform), for users of any institution
    and for platform admins, who belong to none and so have no focal point to confirm them.

    All or nothing: unknown usernames, or inactive users unless `reactivate`, refuse the
    whole request and are named.
    """
    wanted = sorted(set(usernames))
    if not wanted:
        raise BadRequest("Name at least one user to confirm.", field="usernames")
    with transaction.atomic():
        users = list(
            User.objects.select_for_update().filter(username__in=wanted).order_by("username")
        )
        unknown = sorted(set(wanted) - {user.username for user in users})
        if unknown:
            raise BadRequest(f"Unknown users: {', '.join(unknown)}.", field="usernames")
        inactive = [user.username for user in users if not user.is_active]
        if inactive and not reactivate:
            raise BadRequest(
                f"Inactive users (add --reactivate): {', '.join(inactive)}.", field="usernames"
            )
        now = timezone.now()
        for user in users:
            slug = user.institution.slug if user.institution else None
            if not user.is_active:
                user_set_active(actor=None, user=user, active=True)
            previous = user.certified_at
            user.certified_at = now
            user.save(update_fields=["certified_at"])
            record(
                action="user.recertified",
                target=_target(user),
                data={"institution": slug, "previous": previous.isoformat()},
            )
    return users


def recertification_sweep(*, now: datetime | None = None) -> list[User]:
    """Deactivate every active user whose certification lapsed (idempotent: a second run
    finds nobody). The guard already refuses them; this closes their open sockets, revokes
    their tokens and retires the channel keys they held, through user_set_active."""
    swept = []
    cutoff = certification.lapse_cutoff(now)
    for user in User.objects.filter(is_active=True, certified_at__lt=cutoff).order_by("pk"):
        with transaction.atomic():
            # Locked and read again: a focal point may confirm the user meanwhile.
            user = User.objects.select_for_update().get(pk=user.pk)
            if not user.is_active or user.certified_at >= cutoff:
                continue
            user_set_active(actor=None, user=user, active=False)
            record(
                action="user.certification_lapsed",
                actor=None,
                target=_target(user),
                data={
                    "institution": user.institution.slug if user.institution else None,
                    "certified_at": user.certified_at.isoformat(),
                },
            )
        swept.append(user)
    return swept
