"""What the browser tests share: Debian's Chromium, launched by Playwright with the flags
this closed network needs, a signed-in API client of the live server, and a way to reach
the database from outside Playwright's thread.

The fixtures `playwright`, `browser` and `api` live in tests/conftest.py; a module using
them defines a `scene` fixture whose value has `server` (a tests.live.LiveServer),
`tokens` (username → bearer token) and `page_errors` (a list the pages' uncaught errors
go to; the `browser` fixture fails the test if it is not empty).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 15_000
T = TypeVar("T")


def require_chromium() -> None:
    """Fail under CI, skip elsewhere, when Debian's chromium is not installed."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (bash scripts/browser-up)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@functools.cache
def argon2_password() -> str:
    """PASSWORD hashed as the live server checks it (the test settings hash with MD5)."""
    hasher = Argon2PasswordHasher()
    return hasher.encode(PASSWORD, hasher.salt())


def off_the_browser_thread(work: Callable[[], T]) -> T:
    """Run database work in a thread of its own: Django refuses ORM calls from the thread
    where Playwright's sync API keeps its event loop."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
