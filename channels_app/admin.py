"""Channels in the admin: their settings only. Messages are deliberately not registered:
staff status alone must show no channel content (SPEC §1)."""

from django.contrib import admin

from channels_app.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "theme", "listed", "archived", "max_handling_code"]
    list_filter = ["theme", "listed", "archived"]
    readonly_fields = ["last_seq"]
