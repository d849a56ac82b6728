"""exchange-cli, the Python client of SPEC §6.1, as a library and a console script.

`from exchange_client import Client, ExchangeError` gives scripts the same operations the
commands use (docs/cli.md). It speaks only the HTTP API and the WebSocket protocol, and
encrypts with the project's own age (`channels_app.e2ee`): no Django, no app, which the
import-linter contract `client` keeps true.
"""

from __future__ import annotations

from exchange_client.client import Client
from exchange_client.errors import ExchangeError

__all__ = ["Client", "ExchangeError"]
