from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from permissions.management.commands._base import ExchangeCommand
from permissions.people.services import user_upsert


class Command(ExchangeCommand):
    help = "Create a user of an institution, or update the existing one (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--institution", help="slug; required except with --staff")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        parser.add_argument("--focal-point", action="store_true")
        parser.add_argument("--staff", action="store_true", help="a platform admin")

    def handle(self, *args: Any, **options: Any) -> None:
        institution = self.institution(options["institution"]) if options["institution"] else None
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("No password on standard input.")
            try:
                validate_password(password)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        user = user_upsert(
            username=options["username"],
            institution=institution,
            display_name=options["display_name"],
            email=options["email"],
            password=password,
            is_focal_point=options["focal_point"],
            is_staff=options["staff"],
        )
        where = user.institution.slug if user.institution else "platform admin"
        self.stdout.write(f"user {user.username} ({where})")
