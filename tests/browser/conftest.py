"""Fixtures of the browser tests: Playwright driving Debian's headless Chromium
(tests/browser/kit.py says what a test's `scene` must hold). Kept out of the root
conftest, so a run without Playwright's package never imports it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, Playwright, sync_playwright

from tests.browser.kit import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def playwright(scene: Any) -> Iterator[Playwright]:
    # Requested after `scene`: the database work is done before Playwright's loop starts,
    # and the browser is gone before pytest-django flushes the tables.
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright: Playwright, scene: Any) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    assert scene.page_errors == [], "the pages raised errors"


@pytest.fixture
def api(playwright: Playwright, scene: Any) -> Iterator[Callable[[str], APIRequestContext]]:
    """An HTTP client of the live server, signed in with a user's bearer token."""
    clients: dict[str, APIRequestContext] = {}

    def client(username: str) -> APIRequestContext:
        if username not in clients:
            clients[username] = playwright.request.new_context(
                base_url=scene.server.http,
                extra_http_headers={"Authorization": f"Bearer {scene.tokens[username]}"},
            )
        return clients[username]

    yield client
    for context in clients.values():
        context.dispose()
