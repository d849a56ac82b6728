"""Channels in the admin: their settings and their moderators. Messages are deliberately
not registered: staff status alone must show no channel content (SPEC §1).

Moderators are appointed and dismissed here through permissions.services, so the
guardian permission, the audit event, the key rotation and the open sockets all follow
as they would from the command line.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.http import HttpRequest

from channels_app.models import Channel
from permissions.access import MODERATE
from permissions.membership.services import moderator_appoint, moderator_dismiss
from permissions.models import ChannelUserObjectPermission, User


def current_moderators(channel: Channel) -> list[User]:
    ids = ChannelUserObjectPermission.objects.filter(
        content_object=channel, permission__codename=MODERATE
    ).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=ids))


class ChannelForm(forms.ModelForm):
    moderators = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(is_active=True, institution__isnull=False).order_by(
            "username"
        ),
        required=False,
        widget=FilteredSelectMultiple("moderators", is_stacked=False),
        help_text="People who admit and remove institutions, ban users and answer requests.",
    )

    class Meta:
        model = Channel
        fields = [
            "slug",
            "title",
            "theme",
            "description",
            "listed",
            "archived",
            "history_visibility",
            "max_handling_code",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["moderators"].initial = current_moderators(self.instance)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["title", "slug", "theme", "listed", "archived", "max_handling_code"]
    list_filter = ["theme", "listed", "archived"]
    readonly_fields = ["last_seq"]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        channel = form.instance
        actor = request.user if isinstance(request.user, User) else None
        wanted = set(form.cleaned_data.get("moderators") or [])
        present = set(current_moderators(channel))
        for user in sorted(wanted - present, key=lambda u: u.pk):
            moderator_appoint(actor=actor, channel=channel, user=user)
        for user in sorted(present - wanted, key=lambda u: u.pk):
            moderator_dismiss(actor=actor, channel=channel, user=user)
