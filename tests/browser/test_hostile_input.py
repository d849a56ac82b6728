"""The whole hostile corpus, and a poster whose display name and institution name are
HTML, rendered on the channel page in real Chromium: no payload runs (each tries to set
`window.__pwned`), opens a dialog, or makes the page fetch anything from another host.

Half the corpus is in the page's backlog when it opens, half arrives live over the socket,
so both ways a message reaches the page are covered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from urllib.parse import urlparse

import pytest
from playwright.sync_api import APIRequestContext, Browser, expect

from permissions.institutions.registry import institution_upsert
from permissions.people.services import user_upsert
from tests import factories
from tests.browser.kit import off_the_browser_thread
from tests.browser.test_channel_page import Scene, open_channel, scene, sign_in
from tests.security.corpus import hostile_markdown

__all__ = ["scene"]  # the fixture, shared with tests/browser/test_channel_page.py

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("generous_rate_limits")]

HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>Mallory"
HOSTILE_INSTITUTION = "<script>window.__pwned=1</script>Police"
CORPUS = [payload for payload in hostile_markdown() if "\x00" not in payload]


def hostile_poster(scene: Scene) -> str:
    """A participant whose names are HTML; returns their bearer token."""
    institution = factories.make_institution("hostile-police", country="FR")
    institution_upsert(slug="hostile-police", name=HOSTILE_INSTITUTION, country="FR",
                       kind="police")  # fmt: skip
    factories.admit(scene.world.channel, institution, "participant")
    user = user_upsert(username="mallory", institution=institution, display_name=HOSTILE_NAME)
    return factories.token_for(user)


def post_all(api: APIRequestContext, payloads: list[str]) -> None:
    """Post each payload as an API client does: waiting out a 429 as `Retry-After` says
    (the corpus is posted faster than a person's write budget allows)."""
    for body in payloads:
        data = {"body": body, "client_id": str(uuid.uuid4())}
        response = api.post("/api/v1/channels/ops/messages", data=data)
        while response.status == 429:
            time.sleep(int(response.headers["retry-after"]))
            response = api.post("/api/v1/channels/ops/messages", data=data)
        assert response.status == 201, response.text()


def test_stored_xss_in_the_corpus_and_in_names_does_not_run_in_chromium(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    token = off_the_browser_thread(lambda: hostile_poster(scene))
    scene.tokens["mallory"] = token
    half = len(CORPUS) // 2
    post_all(api("mallory"), CORPUS[:half])

    context, page = sign_in(browser, scene, "olivia")
    dialogs: list[str] = []
    foreign: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    context.on(
        "request",
        lambda request: (
            foreign.append(request.url)
            if urlparse(request.url).hostname not in ("127.0.0.1", "localhost", None)
            and not request.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    open_channel(page)
    messages = page.locator("#messages li.message")
    expect(messages).to_have_count(half)

    post_all(api("mallory"), CORPUS[half:])
    expect(messages).to_have_count(len(CORPUS))
    # Anything a payload started has run by the time a later message is shown.
    post_all(api("olivia"), ["all clear"])
    expect(messages.last).to_contain_text("all clear")

    assert page.evaluate("typeof window.__pwned") == "undefined"
    dangerous = "script, iframe, object, embed, svg, math, img, style, link, meta, base, form"
    assert page.locator(f"#messages :is({dangerous})").count() == 0
    handlers = page.locator("#messages *").evaluate_all(
        "els => els.flatMap(el => [...el.attributes].map(a => a.name))"
        ".filter(name => name.startsWith('on') || name === 'style')"
    )
    assert handlers == []
    schemes = page.locator("#messages a[href]").evaluate_all(
        "links => [...new Set(links.map(a => new URL(a.href, location.href).protocol))]"
    )
    assert set(schemes) <= {"http:", "https:", "mailto:"}
    expect(page.locator(".author", has_text="Mallory").first).to_have_text(HOSTILE_NAME)
    expect(page.locator(".institution", has_text="Police").first).to_contain_text(
        HOSTILE_INSTITUTION
    )
    assert page.url.endswith("/c/ops/")
    assert dialogs == []
    assert foreign == []
