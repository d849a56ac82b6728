"""What every Exchange administration command shares: service errors become a clear
message and a non-zero exit, never a traceback."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from exchange.kernel.errors import ServiceError
from permissions.models import Institution, User


class ExchangeCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except ServiceError as exc:
            raise CommandError(exc.message) from None

    @staticmethod
    def institution(slug: str) -> Institution:
        institution = Institution.objects.filter(slug=slug).first()
        if institution is None:
            raise CommandError(f"Unknown institution {slug!r}.")
        return institution

    @staticmethod
    def user(username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"Unknown user {username!r}.")
        return user

    @staticmethod
    def channel(slug: str) -> Any:
        from django.apps import apps

        channel = apps.get_model("channels_app", "Channel").objects.filter(slug=slug).first()
        if channel is None:
            raise CommandError(f"Unknown channel {slug!r}.")
        return channel
