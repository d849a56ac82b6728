from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from permissions.management.commands._base import ExchangeCommand
from permissions.membership.services import admission_set
from permissions.models import AdmissionRole


class Command(ExchangeCommand):
    help = "Admit an institution to a channel, or change its role (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel")
        parser.add_argument("institution")
        parser.add_argument(
            "--role", default=AdmissionRole.PARTICIPANT, help=" or ".join(AdmissionRole.values)
        )

    def handle(self, *args: Any, **options: Any) -> None:
        admission = admission_set(
            actor=None,
            channel=self.channel(options["channel"]),
            institution=self.institution(options["institution"]),
            role=options["role"],
        )
        self.stdout.write(
            f"{options['institution']} admitted to {options['channel']} as {admission.role}"
        )
