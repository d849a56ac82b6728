from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from permissions.management.commands._base import ExchangeCommand
from permissions.membership.services import moderator_appoint


class Command(ExchangeCommand):
    help = "Make a user a moderator of a channel (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel")
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        moderator_appoint(
            actor=None,
            channel=self.channel(options["channel"]),
            user=self.user(options["username"]),
        )
        self.stdout.write(f"{options['username']} moderates {options['channel']}")
