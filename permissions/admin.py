"""Platform admins manage institutions and people here. Channel content is not shown."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db.models import Model
from django.http import HttpRequest

from permissions.institutions.registry import institution_set_active, institution_upsert
from permissions.models import Admission, Ban, Institution, User
from permissions.people.services import user_set_active
from permissions.sign_in.sessions import close_user_sockets


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class ClosingPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's password form; a new password also closes the user's open sockets."""

    def save(self, commit: bool = True) -> Any:
        user = super().save(commit=commit)
        if commit:
            close_user_sockets(user.pk)
        return user


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "country", "kind", "active", "require_two_factor"]
    list_filter = ["kind", "active", "country", "require_two_factor"]
    search_fields = ["name", "slug"]
    exclude = ["group"]

    def save_model(self, request: HttpRequest, obj: Institution, form: Any, change: bool) -> None:
        """A new institution needs its group; a change of `active` goes through the
        service, which ends (or restores) its users' access everywhere at once."""
        if not change:
            institution_upsert(
                slug=obj.slug,
                name=obj.name,
                country=str(obj.country),
                kind=obj.kind,
                actor=_actor(request),
            )
            obj.pk = Institution.objects.get(slug=obj.slug).pk
            obj.group_id = Institution.objects.get(slug=obj.slug).group_id
            if not obj.active:
                institution_set_active(actor=_actor(request), institution=obj, active=False)
            return
        wanted = obj.active
        if "active" in form.changed_data:
            obj.active = not wanted  # saved as it was; the service makes the change
        super().save_model(request, obj, form, change)
        if "active" in form.changed_data:
            institution_set_active(actor=_actor(request), institution=obj, active=wanted)
            obj.active = wanted


@admin.register(User)
class ExchangeUserAdmin(UserAdmin):
    change_password_form = ClosingPasswordChangeForm

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        """Deactivation goes through the service: it closes the user's sockets, revokes
        their tokens and rotates the keys of their channels, as from anywhere else."""
        wanted = obj.is_active
        changed = change and "is_active" in form.changed_data
        if changed:
            obj.is_active = not wanted
        super().save_model(request, obj, form, change)
        if changed:
            user_set_active(actor=_actor(request), user=obj, active=wanted)
            obj.is_active = wanted

    list_display = [
        "username", "display_name", "institution", "is_focal_point", "is_active", "certified_at"
    ]  # fmt: skip
    # Confirmation goes through focal points or `manage.py recertify`, which audit it.
    readonly_fields = ["certified_at"]
    list_filter = ["institution", "is_focal_point", "is_active", "is_staff"]
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        (
            "Exchange",
            {
                "fields": (
                    "institution",
                    "display_name",
                    "preferred_language",
                    "is_focal_point",
                    "certified_at",
                )
            },
        ),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never edited here: a change of access must go through the services, which
    grant or withdraw the guardian permissions, rotate the channel key and close the
    affected sockets. An edit in the admin would do none of that."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Admission)
class AdmissionAdmin(ReadOnlyAdmin):
    list_display = ["channel", "institution", "role", "created_at"]
    list_filter = ["role", "channel"]


@admin.register(Ban)
class BanAdmin(ReadOnlyAdmin):
    list_display = ["channel", "user", "created_at"]
