"""Confirm users from the command line: the way platform admins, who belong to no
institution and so have no focal point, are recertified (docs/moderation.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from permissions.institutions.services import users_recertify_by_platform
from permissions.management.commands._base import ExchangeCommand


class Command(ExchangeCommand):
    help = (
        "Confirm that these users still need access, as of now (idempotent); "
        "--reactivate also reactivates those who were deactivated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="+", metavar="USERNAME")
        parser.add_argument("--reactivate", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        users = users_recertify_by_platform(
            usernames=options["usernames"], reactivate=options["reactivate"]
        )
        for user in users:
            self.stdout.write(f"confirmed {user.username}")
