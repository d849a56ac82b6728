"""`manage.py verify_audit`: check the audit chain (SPEC §6); exit 1 naming the break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify


class Command(BaseCommand):
    help = "Check the hash chain of the audit log; exit 1 at the first broken sequence number."

    def handle(self, *args: Any, **options: Any) -> None:
        verdict = verify()
        if not verdict.ok:
            raise CommandError(
                f"Audit chain broken at sequence number {verdict.broken_seq}: {verdict.reason} "
                f"({verdict.events} events verified before it).",
                returncode=1,
            )
        self.stdout.write(f"Audit chain intact: {verdict.events} events, head {verdict.head}.")
