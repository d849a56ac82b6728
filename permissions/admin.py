"""Platform admins manage institutions and people here. Channel content is not shown."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db.models import Model
from django.http import HttpRequest

from permissions.models import Admission, Ban, Institution, User
from permissions.sessions import close_user_sockets


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


@admin.register(User)
class ExchangeUserAdmin(UserAdmin):
    change_password_form = ClosingPasswordChangeForm
    list_display = ["username", "display_name", "institution", "is_focal_point", "is_active"]
    list_filter = ["institution", "is_focal_point", "is_active", "is_staff"]
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        (
            "Exchange",
            {"fields": ("institution", "display_name", "preferred_language", "is_focal_point")},
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
