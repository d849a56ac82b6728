from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from permissions.management.commands._base import ExchangeCommand
from permissions.sign_in.tokens import token_issue


class Command(ExchangeCommand):
    help = "Issue a personal API token and print it once on standard output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="")
        parser.add_argument("--expires-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        secret = token_issue(
            user=self.user(options["username"]),
            name=options["name"],
            expires_days=options["expires_days"],
        )
        self.stdout.write(secret)
