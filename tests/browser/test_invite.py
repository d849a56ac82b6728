"""A focal point invites a colleague in a real browser (Debian's headless Chromium
against a real daphne); the colleague opens the link, chooses a password and signs in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Page, expect

from permissions.models import User
from tests import factories
from tests.browser.kit import (
    TIMEOUT_MS,
    argon2_password,
    require_chromium,
    sign_in_on,
)
from tests.conftest import World
from tests.live.servers import LiveServer, daphne_server
from tests.signing_in import totp_device

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a long and new passphrase 42"


@dataclass
class Scene:
    world: World
    server: LiveServer
    tokens: dict[str, str] = field(default_factory=dict)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def scene(transactional_db: None, world: World) -> Iterator[Scene]:
    require_chromium()
    fiona = factories.make_user(
        "fiona", institution=world.participant_institution, is_focal_point=True
    )
    User.objects.filter(pk=fiona.pk).update(password=argon2_password())
    totp_device(fiona)  # a focal point signs in with a one-time code
    with daphne_server(debug=True) as server:
        yield Scene(world=world, server=server)


def new_page(browser: Browser, scene: Scene) -> Page:
    context = browser.new_context(base_url=scene.server.http, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda error: scene.page_errors.append(f"{page.url}: {error}"))
    return page


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Channels")).to_be_visible()


def test_a_focal_point_invites_a_colleague_who_sets_a_password_and_signs_in(
    browser: Browser, scene: Scene
) -> None:
    focal_point = new_page(browser, scene)
    sign_in_on(focal_point, "fiona")
    expect(focal_point.get_by_role("heading", name="Channels")).to_be_visible()
    focal_point.get_by_role("link", name="My institution").click()
    expect(focal_point.get_by_role("heading", name="Users of Guardia Civil")).to_be_visible()
    focal_point.get_by_label("Username").fill("nina")
    focal_point.get_by_label("Email").fill("nina@guardia.example")
    focal_point.get_by_label("Display name").fill("Nina Ruiz")
    focal_point.get_by_label("Preferred language").select_option("es")
    focal_point.get_by_role("button", name="Invite", exact=True).click()
    link = focal_point.locator("#invite-url")
    expect(link).to_be_visible()
    url = link.input_value()
    assert url.startswith(f"{scene.server.http}/invite/"), url
    expect(focal_point.locator('tr[data-username="nina"]')).to_contain_text("invited")

    colleague = new_page(browser, scene)
    colleague.goto(url)
    colleague.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    colleague.get_by_label("New password again").fill(NEW_PASSWORD)
    colleague.get_by_role("button", name="Set my password").click()
    expect(colleague.get_by_role("heading", name="Password set")).to_be_visible()
    colleague.get_by_role("link", name="Sign in").click()
    sign_in(colleague, "nina", NEW_PASSWORD)
    expect(colleague.get_by_role("link", name="Ops")).to_be_visible()

    colleague.goto(url)  # the link worked once
    expect(colleague.get_by_role("alert")).to_contain_text("no longer valid")
