from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from permissions.institutions.registry import institution_upsert
from permissions.management.commands._base import ExchangeCommand
from permissions.models import InstitutionKind


class Command(ExchangeCommand):
    help = "Create an institution, or update the one with this slug (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. ES")
        parser.add_argument("--kind", required=True, help=", ".join(InstitutionKind.values))

    def handle(self, *args: Any, **options: Any) -> None:
        institution = institution_upsert(
            slug=options["slug"],
            name=options["name"],
            country=options["country"],
            kind=options["kind"],
        )
        self.stdout.write(
            f"institution {institution.slug}: {institution.name} ({institution.country})"
        )
