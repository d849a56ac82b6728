"""The channel page in a real browser: Debian's headless Chromium, driven by Playwright,
against a real daphne on the test database.

Everything happens through what a user or another client would use: the login form,
the composer, the public HTTP API. The test touches the database itself only to set the
scene before the browser starts, or from a thread of its own (Playwright's sync API marks
its thread as running an event loop, and Django refuses ORM calls there). Tests wait for
conditions, never for time.
"""

from __future__ import annotations

import json
import time
import uuid
from base64 import b32decode
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import override_settings
from django_otp.oath import TOTP
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    BrowserContext,
    Page,
    Request,
    WebSocketRoute,
    expect,
)

from permissions.membership.services import admission_remove
from permissions.models import User
from tests import factories
from tests.browser.kit import (
    PASSWORD,
    TIMEOUT_MS,
    argon2_password,
    off_the_browser_thread,
    require_chromium,
    sign_in_on,
    watch_csp,
)
from tests.conftest import World
from tests.live.servers import LAYER_PREFIX, LiveServer, daphne_server
from tests.signing_in import totp_device

pytestmark = pytest.mark.browser

# socket.js waits up to 15 s between two attempts to reconnect.
RECONNECT_TIMEOUT_MS = 15_000 + TIMEOUT_MS


@dataclass
class Scene:
    """The standing world, plus a participant of a second institution, all able to sign in
    to a server that hashes with Argon2 (the test settings' MD5 is unknown there)."""

    world: World
    guest: User
    server: LiveServer
    tokens: dict[str, str] = field(default_factory=dict)
    redis_url: str | None = None
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def scene(request: pytest.FixtureRequest, transactional_db: None, world: World) -> Iterator[Scene]:
    """Parametrize indirectly with "redis" for a server on the Redis channel layer.

    The server is another process: what the test writes must be committed to be seen."""
    require_chromium()
    prosecutors = factories.make_institution("fiscalia-peru", country="PE", kind="prosecution")
    factories.admit(world.channel, prosecutors, "participant")
    guest = factories.make_user("gabriela", institution=prosecutors)
    totp_device(world.owner)  # olivia moderates "ops": she signs in with a code
    people = [world.owner, world.member, world.observer, world.outsider, guest]
    User.objects.filter(pk__in=[user.pk for user in people]).update(password=argon2_password())
    tokens = {user.username: factories.token_for(user) for user in people}
    redis_url = request.getfixturevalue("redis_url") if getattr(request, "param", "") else None
    with daphne_server(debug=True, redis_url=redis_url) as server:
        yield Scene(world=world, guest=guest, server=server, tokens=tokens, redis_url=redis_url)


def sign_in(browser: Browser, scene: Scene, username: str) -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in through the login form. Uncaught errors of its
    pages are kept in `scene.page_errors` (and fail the test)."""
    context = browser.new_context(base_url=scene.server.http, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.on("page", lambda page: watch_errors(page, scene))
    watch_csp(context, scene.page_errors)
    page = context.new_page()
    sign_in_on(page, username)
    expect(page.get_by_role("heading", name="Channels")).to_be_visible()
    return context, page


def watch_errors(page: Page, scene: Scene) -> None:
    """Uncaught errors, and the frames socket.js could not handle (it logs them)."""
    page.on("pageerror", lambda error: scene.page_errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            scene.page_errors.append(f"{page.url}: {message.text}")
            if message.type == "error" and message.text.startswith("exchange socket:")
            else None
        ),
    )


def open_channel(page: Page, slug: str = "ops") -> None:
    page.goto(f"/c/{slug}/")
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=TIMEOUT_MS)


def post(api: APIRequestContext, body: str, *, parent: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body, "client_id": str(uuid.uuid4())}
    if parent is not None:
        payload["parent"] = parent
    response = api.post("/api/v1/channels/ops/messages", data=payload)
    assert response.status == 201, response.text()
    message: dict[str, Any] = response.json()
    return message


def send(page: Page, body: str) -> None:
    page.get_by_role("textbox", name="Message").fill(body)
    page.get_by_role("button", name="Send").click()


def test_a_message_and_its_reply_appear_live_for_two_institutions(
    scene: Scene, browser: Browser
) -> None:
    _, olivia = sign_in(browser, scene, "olivia")  # Guardia Civil (ES)
    _, gabriela = sign_in(browser, scene, "gabriela")  # Fiscalia Peru (PE)
    open_channel(olivia)
    open_channel(gabriela)
    gabriela.evaluate("window.__sameDocument = true")

    send(olivia, "Seized **42 servers** in `Lima`:\n\n- one\n- two")

    root = gabriela.locator("#messages > li.message").first
    expect(root.locator(".body strong")).to_have_text("42 servers")
    expect(root.locator(".body code")).to_have_text("Lima")
    expect(root.locator(".body li")).to_have_count(2)
    expect(root.locator(".author")).to_have_text("Olivia")
    expect(root.locator(".institution")).to_have_text("Guardia Civil (ES)")
    assert gabriela.evaluate("window.__sameDocument") is True  # live, not reloaded
    root_id = root.get_attribute("data-id")
    expect(olivia.locator(f"#m-{root_id} .body strong")).to_have_text("42 servers")

    root.get_by_role("button", name="Reply").click()
    expect(gabriela.locator("#replying")).to_be_visible()
    expect(gabriela.locator("#replying .reply-author")).to_have_text("Olivia")
    expect(gabriela.locator("#replying .reply-excerpt")).to_contain_text("Seized 42 servers")
    send(gabriela, "Our _prosecutor_ will call you.")
    expect(gabriela.locator("#replying")).to_be_hidden()

    for page in (olivia, gabriela):
        reply = page.locator(f"#m-{root_id} > .replies > li.message")
        expect(reply).to_have_count(1)
        expect(reply.locator(".body em")).to_have_text("prosecutor")
        expect(reply.locator(".institution")).to_have_text("Fiscalia Peru (PE)")
        expect(reply.get_by_role("button", name="Reply")).to_be_hidden()
        expect(page.locator("#messages > li.message")).to_have_count(1)


class SocketGate:
    """Stands between the page and the server's WebSocket: while down, every connection
    attempt is cut at once, as when the network or the server is away. Keeps the
    subscribe frames the page sent."""

    def __init__(self) -> None:
        self.down = False
        self.subscribes: list[dict[str, Any]] = []

    def route(self, ws: WebSocketRoute) -> None:
        if self.down:
            ws.close()
            return
        server = ws.connect_to_server()

        def to_server(text: str | bytes) -> None:
            frame = json.loads(text)
            if frame.get("type") == "subscribe":
                self.subscribes.append(frame)
            server.send(text)

        ws.on_message(to_server)


def top_level_seqs(page: Page) -> list[int]:
    seqs: list[str] = page.locator("#messages > li.message").evaluate_all(
        "items => items.map(item => item.dataset.seq)"
    )
    return [int(seq) for seq in seqs]


def test_a_page_that_lost_its_socket_catches_up_and_shows_each_message_once(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    earlier = post(api("olivia"), "posted before the page opened")
    _, page = sign_in(browser, scene, "gabriela")
    gate = SocketGate()
    page.route_web_socket("**/ws/v1/", gate.route)
    open_channel(page)
    expect(page.locator(f"#m-{earlier['id']}")).to_have_count(1)

    gate.down = True
    page.evaluate("window.exchangeConnection.ws.close()")
    expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    missed = [post(api("olivia"), f"missed number {n}") for n in range(1, 4)]
    missed.append(post(api("mateo"), "a missed reply", parent=missed[0]["id"]))
    # Written while offline: queued, and sent once the socket is back.
    send(page, "written while offline")
    expect(page.locator("#pending")).to_be_visible()
    for message in missed:
        expect(page.locator(f"#m-{message['id']}")).to_have_count(0)

    gate.down = False
    expect(page.locator("#status")).to_have_attribute(
        "data-state", "online", timeout=RECONNECT_TIMEOUT_MS
    )
    for message in [earlier, *missed]:
        expect(page.locator(f"#m-{message['id']}")).to_have_count(1)
    mine = page.locator("li.message", has_text="written while offline")
    expect(mine).to_have_count(1)
    expect(page.locator("#pending")).to_be_hidden()
    expect(page.locator(f"#m-{missed[0]['id']} > .replies > li.message")).to_have_count(1)
    expect(page.locator("li.message")).to_have_count(6)
    assert top_level_seqs(page) == [1, 2, 3, 4, 6]
    # It asked only for what it had not seen.
    assert gate.subscribes == [
        {"type": "subscribe", "channel": "ops"},
        {"type": "subscribe", "channel": "ops", "after": earlier["id"]},
    ]

    # Still live after the reconnect, and the server stored the queued message once.
    after = post(api("olivia"), "after the reconnect")
    expect(page.locator(f"#m-{after['id']}")).to_have_count(1)
    stored = api("gabriela").get("/api/v1/channels/ops/messages?limit=200").json()
    assert [m["body"] for m in stored].count("written while offline") == 1
    assert len(stored) == 7
    expect(page.locator("li.message")).to_have_count(7)


# Loses the one `message.new` frame whose seq is `window.lossy.seq`, before the page
# sees it: what a channel layer that dropped the broadcast does to one socket.
LOSSY_SOCKET = """
(() => {
  const lossy = { seq: null, dropped: [] };
  window.lossy = lossy;
  const addEventListener = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (type, listener, options) {
    if (type !== "message") return addEventListener.call(this, type, listener, options);
    const filtered = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "message.new" && frame.message.seq === lossy.seq) {
        lossy.seq = null;
        lossy.dropped.push(frame.message.seq);
        return undefined;
      }
      return listener.call(this, event);
    };
    return addEventListener.call(this, type, filtered, options);
  };
})();
"""


def is_gap_fetch(request: Request) -> bool:
    return "/api/v1/channels/ops/messages?after=" in request.url


def test_a_dropped_broadcast_is_noticed_by_its_seq_and_fetched_over_http(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    first = post(api("olivia"), "seq one")
    context, page = sign_in(browser, scene, "gabriela")
    context.add_init_script(LOSSY_SOCKET)
    open_channel(page)
    expect(page.locator(f"#m-{first['id']}")).to_have_count(1)
    gap_fetches: list[str] = []
    page.on(
        "request",
        lambda request: gap_fetches.append(request.url) if is_gap_fetch(request) else None,
    )

    page.evaluate("window.lossy.seq = 2")
    dropped = post(api("olivia"), "seq two, whose broadcast is lost")
    page.wait_for_function("() => window.lossy.dropped.length === 1")
    assert page.evaluate("window.lossy.dropped") == [2]
    expect(page.locator(f"#m-{dropped['id']}")).to_have_count(0)  # nothing told the page yet

    with page.expect_request(is_gap_fetch) as fetch:
        following = post(api("olivia"), "seq three, which reveals the gap")
    assert f"after={first['id']}" in fetch.value.url
    expect(page.locator(f"#m-{following['id']}")).to_have_count(1)
    expect(page.locator(f"#m-{dropped['id']}")).to_have_count(1)
    expect(page.locator(f"#m-{dropped['id']} .body")).to_have_text(
        "seq two, whose broadcast is lost"
    )
    assert top_level_seqs(page) == [1, 2, 3]

    # The gap is closed: the next message needs no fetch.
    last = post(api("olivia"), "seq four")
    expect(page.locator(f"#m-{last['id']}")).to_have_count(1)
    page.wait_for_function("() => window.exchangeConnection.lastSeq === 4")
    assert page.evaluate("window.exchangeConnection.ahead.size") == 0
    assert len(gap_fetches) == 1
    expect(page.locator("li.message")).to_have_count(4)


HOSTILE = (
    "<script>alert('script'); window.pwned = true</script>\n\n"
    "<img src=x onerror=\"alert('img'); window.pwned = true\">\n\n"
    "[click me](javascript:alert('link'))\n\n"
    "<a href=\"javascript:alert('raw')\">raw link</a>\n\n"
    "![tracker](https://tracker.invalid/pixel.png)"
)


def test_hostile_markdown_is_shown_as_inert_text(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    _, olivia = sign_in(browser, scene, "olivia")
    _, gabriela = sign_in(browser, scene, "gabriela")
    dialogs: list[str] = []
    for page in (olivia, gabriela):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        open_channel(page)

    send(olivia, HOSTILE)
    for page in (olivia, gabriela):
        body = page.locator("#messages > li.message .body").first
        expect(body).to_contain_text("<script>alert('script'); window.pwned = true</script>")
        expect(body).to_contain_text("<img src=x onerror=")
        expect(body.locator("script, img, iframe, svg, [onerror], [style]")).to_have_count(0)
        assert page.locator("#messages a[href^='javascript' i]").count() == 0
        body.get_by_text("click me").click()
        body.get_by_text("raw link").click()

    # A message sent after the hostile one arrives after anything it could have started.
    post(api("mateo"), "all clear")
    for page in (olivia, gabriela):
        expect(page.locator("#messages > li.message")).to_have_count(2)
        expect(page.locator("#messages > li.message").last).to_contain_text("all clear")
        assert page.evaluate("window.pwned") is None
        assert page.url.endswith("/c/ops/")
    assert dialogs == []


def test_an_observer_reads_live_but_has_no_composer(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    _, oscar = sign_in(browser, scene, "oscar")
    open_channel(oscar)
    expect(oscar.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(oscar.get_by_text("you can read but not post")).to_be_visible()
    message = post(api("olivia"), "for **every** member")
    expect(oscar.locator(f"#m-{message['id']} .body strong")).to_have_text("every")
    expect(oscar.locator(f"#m-{message['id']}").get_by_role("button", name="Reply")).to_be_hidden()


def test_edits_and_deletions_show_live(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    _, gabriela = sign_in(browser, scene, "gabriela")
    open_channel(gabriela)
    message = post(api("olivia"), "the meeting is on *Monday*")
    item = gabriela.locator(f"#m-{message['id']}")
    expect(item.locator(".body em")).to_have_text("Monday")
    expect(item.get_by_text("(edited)")).to_be_hidden()

    edited = api("olivia").patch(f"/api/v1/messages/{message['id']}", data={"body": "*Tuesday*"})
    assert edited.status == 200, edited.text()
    expect(item.locator(".body em")).to_have_text("Tuesday")
    expect(item.get_by_text("(edited)")).to_be_visible()

    deleted = api("olivia").delete(f"/api/v1/messages/{message['id']}")
    assert deleted.status in (200, 204), deleted.text()
    expect(item.get_by_text("This message was deleted.")).to_be_visible()
    expect(item.locator(".body")).to_be_empty()
    expect(item.get_by_role("button", name="Reply")).to_be_hidden()
    expect(gabriela.locator("li.message")).to_have_count(1)


@pytest.mark.parametrize("scene", ["redis"], indirect=True)
def test_the_page_says_so_the_moment_access_is_revoked(scene: Scene, browser: Browser) -> None:
    _, gabriela = sign_in(browser, scene, "gabriela")
    open_channel(gabriela)
    gabriela.locator("#body").fill("a draft")
    redis_layer = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [scene.redis_url], "prefix": LAYER_PREFIX},
        }
    }

    def remove_the_institution() -> None:
        with override_settings(CHANNEL_LAYERS=redis_layer):
            admission_remove(
                actor=scene.world.owner,
                channel=scene.world.channel,
                institution=scene.guest.institution,  # type: ignore[arg-type]
            )

    off_the_browser_thread(remove_the_institution)
    expect(gabriela.locator("#status")).to_have_attribute("data-state", "revoked")
    expect(gabriela.locator("#problem")).to_contain_text("Your access to this channel has ended")
    expect(gabriela.get_by_role("textbox", name="Message")).to_be_disabled()
    expect(gabriela.get_by_role("button", name="Send")).to_be_disabled()
    gabriela.wait_for_function("() => window.exchangeConnection.ws.readyState === WebSocket.CLOSED")


def test_a_page_reopened_after_access_ended_offline_says_so(scene: Scene, browser: Browser) -> None:
    _, gabriela = sign_in(browser, scene, "gabriela")
    open_channel(gabriela)
    # The server in another process does not hear of this: the page learns on reconnect.
    off_the_browser_thread(
        lambda: admission_remove(
            actor=None,
            channel=scene.world.channel,
            institution=scene.guest.institution,  # type: ignore[arg-type]
        )
    )
    gabriela.evaluate("window.exchangeConnection.ws.close()")
    expect(gabriela.locator("#status")).to_have_attribute("data-state", "revoked")
    expect(gabriela.locator("#problem")).to_contain_text("Your access to this channel has ended")
    expect(gabriela.get_by_role("button", name="Send")).to_be_disabled()


def test_a_page_whose_socket_is_refused_after_sign_out_says_so(
    scene: Scene, browser: Browser
) -> None:
    context, page = sign_in(browser, scene, "mateo")
    open_channel(page)
    other_tab = context.new_page()
    other_tab.goto("/")
    other_tab.get_by_role("button", name="Sign out").click()
    expect(other_tab.get_by_role("heading", name="Sign in")).to_be_visible()

    # Signing out closed the socket the channel page had open with that session, at once.
    expect(page.locator("#status")).to_have_attribute("data-state", "signed-out")
    expect(page.locator("#problem")).to_contain_text("You are signed out")
    page.get_by_role("link", name="Sign in again").click()
    page.get_by_label("Username").fill("mateo")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{scene.server.http}/c/ops/")
    expect(page.locator("#status")).to_have_attribute("data-state", "online")


def test_a_focal_point_turns_on_two_factor_at_first_sign_in_then_enters_codes(
    scene: Scene, browser: Browser
) -> None:
    def make_focal_point() -> None:
        user = factories.make_user(
            "fernanda", institution=scene.world.participant_institution, is_focal_point=True
        )
        User.objects.filter(pk=user.pk).update(password=argon2_password())

    off_the_browser_thread(make_focal_point)
    context = browser.new_context(base_url=scene.server.http, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.on("page", lambda page: watch_errors(page, scene))
    page = context.new_page()
    sign_in_on(page, "fernanda")  # no device yet: the password leads to enrolment
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    page.goto("/c/ops/")
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()

    secret = b32decode(page.get_by_test_id("totp-secret").inner_text().replace(" ", ""))
    app = TOTP(secret)
    app.time = time.time()
    page.get_by_label("Code", exact=True).fill(f"{app.token():06d}")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_test_id("backup-codes").locator("li")).to_have_count(10)
    page.get_by_role("link", name="I have kept them, continue").click()
    expect(page).to_have_url(f"{scene.server.http}/c/ops/")
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=TIMEOUT_MS)
    context.close()

    # The next sign-in asks for a code, computed from the same key.
    context, page = sign_in(browser, scene, "fernanda")
    context.close()


# --- the Content-Security-Policy in a real browser ------------------------------------------


def test_every_page_works_under_the_content_security_policy_with_no_violation(
    scene: Scene, browser: Browser
) -> None:
    """Every test here fails on a violation; this one walks the pages no other test opens
    (the keys page, the admin's sign-in, the API's browsable docs) and the live channel."""
    _, page = sign_in(browser, scene, "olivia")
    open_channel(page)  # the socket connects: connect-src 'self' covers ws://
    send(page, "under **CSP**")
    expect(page.locator("#messages .body strong").first).to_have_text("CSP")
    page.goto("/keys/")
    expect(page.locator("main")).to_be_visible()
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title").first).to_contain_text("Exchange API")
    page.goto("/admin/login/")
    expect(page.locator("#login-form")).to_be_visible()
    assert scene.page_errors == []


def test_an_inline_script_smuggled_into_a_page_is_refused_and_reported(
    scene: Scene, browser: Browser
) -> None:
    """The control for the test above: a violation does reach `page_errors`. Markdown is
    sanitised server-side (tests/channels_app/messages/test_services.py); this is the
    second line."""
    context, page = sign_in(browser, scene, "olivia")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__smuggled = true";
            document.body.append(script);
        }"""
    )
    with page.expect_console_message(lambda message: "CSP violation" in message.text):
        page.evaluate("() => document.body.setAttribute('onclick', 'window.__smuggled = 1')")
        page.evaluate("() => document.body.click()")
    assert page.evaluate("window.__smuggled") is None
    assert any("script-src" in error for error in scene.page_errors), scene.page_errors
    scene.page_errors.clear()  # expected here; the fixture fails the test on any left
    context.close()
