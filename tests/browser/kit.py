"""What the browser tests share: Debian's Chromium, launched by Playwright with the flags
this closed network needs, a signed-in API client of the live server, and a way to reach
the database from outside Playwright's thread.

The fixtures `playwright`, `browser` and `api` live in tests/conftest.py; a module using
them defines a `scene` fixture whose value has `server` (a tests.live.servers.LiveServer),
`tokens` (username → bearer token) and `page_errors` (a list the pages' uncaught errors
go to; the `browser` fixture fails the test if it is not empty).

`sign_in_on` signs in as a person does: the login form, then, for a user with an
authenticator device (tests.signing_in.totp_device), the code step with the code the
app would show.

The pages run under the Content-Security-Policy, which refuses eval: give
`wait_for_function` an arrow function ("() => …"), which Playwright calls through the
DevTools protocol, not a bare expression, which it would eval in the page.
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
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from tests.signing_in import totp_code

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


# Relays each violation the page itself sees (the `securitypolicyviolation` event) to the
# console, beside chromium's own report there, so that neither can be missed.
_CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} refused ${event.blockedURI}`);
});
"""


def is_csp_violation(message: ConsoleMessage) -> bool:
    return message.type == "error" and (
        "Content Security Policy" in message.text or message.text.startswith("CSP violation")
    )


def watch_csp(context: BrowserContext, sink: list[str]) -> None:
    """Every Content-Security-Policy violation on the context's pages (opened from now on)
    goes to `sink`; the browser tests put it in `scene.page_errors`, which fails them."""
    context.add_init_script(_CSP_REPORTER)

    def watch(page: Page) -> None:
        page.on(
            "console",
            lambda message: (
                sink.append(f"{page.url}: {message.text}") if is_csp_violation(message) else None
            ),
        )

    context.on("page", watch)


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


def _device_of(username: str) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user__username=username, confirmed=True).first()


def sign_in_on(page: Page, username: str, *, path: str = "/login/") -> None:
    """Fill the login form at `path`, and the code step if the user has a device."""
    device = off_the_browser_thread(lambda: _device_of(username))
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if device is None:
        return
    expect(page.get_by_role("heading", name="One-time code")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(off_the_browser_thread(lambda: totp_code(device)))
    page.get_by_role("button", name="Verify").click()
