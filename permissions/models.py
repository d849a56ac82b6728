"""Who may take part: institutions, their users, admissions, bans and API tokens.

Access belongs to institutions. Admitting an institution grants django-guardian object
permissions on the Channel to the institution's group, so every active user of the
institution, present and future, holds them; moderators hold `moderate_channel` on their
user account. Foreign keys to channels_app are by string so this app never imports it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from permissions.choices import AccessRequestState, AdmissionRole, InstitutionKind
from permissions.people.validators import visible_name_validator


class Institution(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200, validators=[visible_name_validator])
    country = CountryField()
    kind = models.CharField(max_length=20, choices=InstitutionKind.choices)
    active = models.BooleanField(default=True)
    require_two_factor = models.BooleanField(
        default=False,
        help_text=_("Every user of the institution must sign in with a one-time code."),
    )
    # The group that carries the institution's channel permissions; every user of the
    # institution is in it. Created with the institution, never shared.
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="institution")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"


class User(AbstractUser):
    institution = models.ForeignKey(
        Institution, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    display_name = models.CharField(max_length=150, blank=True, validators=[visible_name_validator])
    preferred_language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    is_focal_point = models.BooleanField(
        default=False, help_text=_("May invite and deactivate users of their own institution.")
    )
    # When a focal point last confirmed that this person still belongs here (or invited or
    # reactivated them). Older than RECERTIFY_DAYS: due; older still by the grace period:
    # lapsed, and permissions.access refuses them (permissions/institutions/certification.py).
    certified_at = models.DateTimeField(
        default=timezone.now,
        help_text=_("When the institution's focal point last confirmed this user."),
    )

    def __str__(self) -> str:
        return self.username

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username


class Admission(models.Model):
    channel = models.ForeignKey(
        "channels_app.Channel", on_delete=models.CASCADE, related_name="admissions"
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="admissions"
    )
    role = models.CharField(max_length=16, choices=AdmissionRole.choices)
    admitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "institution"], name="admission_once_per_institution"
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} in {self.channel_id} as {self.role}"


class Ban(models.Model):
    """Removes one person from a channel while their institution stays admitted."""

    channel = models.ForeignKey(
        "channels_app.Channel", on_delete=models.CASCADE, related_name="bans"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bans"
    )
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "user"], name="ban_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} banned from {self.channel_id}"


class ApiToken(models.Model):
    """A personal API token. Only the SHA-256 of the secret is kept; it is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text=_("The first characters, to recognise it."))
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


class ChannelUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key permissions of users (moderators) on a channel."""

    content_object = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE)


class ChannelGroupObjectPermission(GroupObjectPermissionBase):
    """Direct foreign-key permissions of institution groups on a channel."""

    content_object = models.ForeignKey("channels_app.Channel", on_delete=models.CASCADE)


class AccessRequest(models.Model):
    """An institution asks, through one of its members, to take part in a channel.

    At most one request per institution and channel is open at a time; the channel's
    moderators approve it (with the role they choose) or decline it.
    """

    channel = models.ForeignKey(
        "channels_app.Channel", on_delete=models.CASCADE, related_name="access_requests"
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="access_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(max_length=1000, blank=True)
    state = models.CharField(
        max_length=16, choices=AccessRequestState.choices, default=AccessRequestState.OPEN
    )
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "institution"],
                condition=models.Q(state="open"),
                name="access_request_one_open_per_institution",
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} asks for {self.channel_id} ({self.state})"
