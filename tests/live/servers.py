"""Real servers for tests: daphne processes serving exchange.asgi on the test database.

Data a test writes must be committed to be seen by a server process, so tests that use
these fixtures take `transactional_db` (or `django_db(transaction=True)`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# Redis pub/sub ignores the database number: servers of this test run share a prefix of
# their own, and a test that publishes to them must use it too.
LAYER_PREFIX = f"exchange-test-{os.getpid()}"
# The servers' secret key: a session made in the test process under it is valid there.
LIVE_SECRET_KEY = "live-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """The URL of the database this test run uses, for a server process to share."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


@dataclass
class LiveServer:
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def log_text(self) -> str:
        """What the process wrote to stderr so far: its tracebacks, for a test to check."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/v1/"


@contextmanager
def daphne_server(
    *, redis_url: str | None = None, debug: bool = False, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """A daphne process on a free port; `env` adds to (or overrides) its environment,
    e.g. EXCHANGE_MEDIA_ROOT for a file store the test can reach."""
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exchange.settings",
        "EXCHANGE_SECRET_KEY": LIVE_SECRET_KEY,
        "EXCHANGE_DEBUG": "1" if debug else "0",
        "EXCHANGE_SECURE_COOKIES": "0",
        "EXCHANGE_SSL_REDIRECT": "0",
        "EXCHANGE_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url or "",
        "EXCHANGE_CHANNEL_LAYER_PREFIX": LAYER_PREFIX,
        **(env or {}),
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115  (a pipe nobody reads would block daphne)
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange.server", "-b", "127.0.0.1", "-p", str(port),
         "-v", "0", "exchange.asgi:application"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"daphne exited: {log.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("daphne did not start within 30 s") from None
                time.sleep(0.1)
        yield LiveServer(port=port, process=process, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
