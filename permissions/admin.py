"""Platform admins manage institutions and people here. Channel content is not shown."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from permissions.models import Admission, Ban, Institution, User


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "country", "kind", "active"]
    list_filter = ["kind", "active", "country"]
    search_fields = ["name", "slug"]
    exclude = ["group"]


@admin.register(User)
class ExchangeUserAdmin(UserAdmin):
    list_display = ["username", "display_name", "institution", "is_focal_point", "is_active"]
    list_filter = ["institution", "is_focal_point", "is_active", "is_staff"]
    fieldsets = (
        *UserAdmin.fieldsets,  # type: ignore[misc]
        (
            "Exchange",
            {"fields": ("institution", "display_name", "preferred_language", "is_focal_point")},
        ),
    )


@admin.register(Admission)
class AdmissionAdmin(admin.ModelAdmin):
    list_display = ["channel", "institution", "role", "created_at"]
    list_filter = ["role", "channel"]


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    list_display = ["channel", "user", "created_at"]
