"""Run daily (a systemd timer or cron, README "Running in production")."""

from __future__ import annotations

from typing import Any

from permissions.institutions.services import recertification_sweep
from permissions.management.commands._base import ExchangeCommand


class Command(ExchangeCommand):
    help = (
        "Deactivate every user whose certification lapsed (unconfirmed for "
        "EXCHANGE_RECERTIFY_DAYS plus EXCHANGE_RECERTIFY_GRACE_DAYS), closing their open "
        "sockets and writing user.certification_lapsed to the audit log. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        swept = recertification_sweep()
        for user in swept:
            self.stdout.write(f"deactivated {user.username} (certification lapsed)")
        self.stdout.write(f"{len(swept)} user(s) deactivated")
