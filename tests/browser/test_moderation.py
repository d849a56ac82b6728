"""Moderation in a real browser: Debian's headless Chromium, driven by Playwright, against
a real daphne. A moderator works the moderation page while members have the channel page
open; what they see changes at once, through the socket, with nobody reloading.

The scene is tests/browser/test_channel_page.py's: the standing world plus gabriela, a participant
of a second institution (Fiscalia Peru), everyone able to sign in with the password.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import APIRequestContext, Browser, Page, expect

from tests.browser import test_channel_page as test_browser
from tests.browser.test_channel_page import Scene, open_channel, post, sign_in

pytestmark = pytest.mark.browser

scene = test_browser.scene  # the same fixture: a live daphne and the people above


def open_moderation(page: Page) -> None:
    page.goto("/c/ops/")
    page.get_by_role("link", name="Moderate").click()
    expect(page.get_by_role("heading", name="Moderate Ops")).to_be_visible()


def write_down_recovery_code(page: Page) -> None:
    """The catalogue makes a new user's key on the first visit and shows its recovery
    code once; the user confirms they wrote it down."""
    page.get_by_role("button", name="I have written it down").click()
    expect(page.get_by_test_id("fingerprint")).to_be_visible()


def test_removing_an_institution_ends_its_members_open_page_and_the_key_is_replaced(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    _, olivia = sign_in(browser, scene, "olivia")
    write_down_recovery_code(olivia)
    open_channel(olivia)
    expect(olivia.get_by_test_id("e2ee-status")).to_have_attribute("data-state", "ready")
    _, gabriela = sign_in(browser, scene, "gabriela")
    open_channel(gabriela)

    open_moderation(olivia)
    row = olivia.locator('tr[data-institution="fiscalia-peru"]')
    row.get_by_role("link", name="Remove…").click()
    expect(olivia.get_by_text("access to Ops at once")).to_be_visible()
    olivia.get_by_role("button", name="Remove Fiscalia Peru").click()

    expect(
        olivia.get_by_role("status").filter(has_text="Fiscalia Peru was removed")
    ).to_be_visible()
    expect(gabriela.locator("#status")).to_have_attribute("data-state", "revoked")
    expect(gabriela.locator("#problem")).to_contain_text("Your access to this channel has ended")
    expect(gabriela.get_by_role("button", name="Send")).to_be_disabled()

    # The removal left the channel key stale: the moderation page replaces it at once
    # (SPEC §5: the moderator's client that removed them starts the next epoch).
    expect(olivia.locator("#key-stale")).to_be_visible()
    status = olivia.get_by_test_id("e2ee-status")
    expect(status).to_have_attribute("data-state", "ready")
    expect(status).to_contain_text("The channel key was replaced")
    epochs = api("olivia").get("/api/v1/channels/ops/epochs").json()
    assert [(e["number"], e["stale"]) for e in epochs] == [(1, True), (2, False)]
    members = {m["username"] for m in api("olivia").get("/api/v1/channels/ops/members").json()}
    assert "gabriela" not in members
    open_moderation(olivia)
    expect(olivia.locator("#key-stale")).to_have_count(0)


def test_a_reported_message_deleted_by_the_moderator_disappears_from_the_members_page(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    message = post(api("mateo"), "buy cheap watches at example.test")
    _, gabriela = sign_in(browser, scene, "gabriela")
    open_channel(gabriela)
    item = gabriela.locator(f"#m-{message['id']}")
    expect(item.get_by_role("button", name="Delete")).to_be_hidden()  # not hers, no moderator
    item.get_by_role("button", name="Report").click()
    item.get_by_label("Why should the moderators look at this message?").fill("Spam")
    item.get_by_role("button", name="Send the report").click()
    expect(
        gabriela.get_by_text("the channel's moderators will look at this message")
    ).to_be_visible()

    _, olivia = sign_in(browser, scene, "olivia")
    expect(olivia.locator('li.card[data-channel="ops"]')).to_contain_text("1 open report")
    olivia.locator('li.card[data-channel="ops"] .moderation-counts a').click()
    report = olivia.locator("article.report")
    expect(report).to_contain_text("Gabriela")
    expect(report).to_contain_text("Spam")
    expect(report).to_contain_text("Mateo")
    expect(report).to_contain_text("buy cheap watches at example.test")
    report.get_by_role("button", name="Resolve and delete the message").click()
    expect(olivia.get_by_text("The report was resolved and the message deleted.")).to_be_visible()
    expect(olivia.get_by_text("No open reports.")).to_be_visible()

    expect(item.get_by_text("This message was deleted.")).to_be_visible()
    expect(item.locator(".body")).to_be_empty()
    expect(item.get_by_role("button", name="Report")).to_be_hidden()


def test_an_outsider_asks_to_join_and_opens_the_channel_once_approved(
    scene: Scene, browser: Browser
) -> None:
    _, ursula = sign_in(browser, scene, "ursula")
    card = ursula.locator('li.card[data-channel="ops"]')
    card.get_by_label("Note to the moderators (optional)").fill("Carabineros cybercrime unit")
    card.get_by_role("button", name="Ask to join").click()
    expect(ursula.get_by_text("Your request was sent to the channel's moderators.")).to_be_visible()
    expect(card.get_by_text("Request pending")).to_be_visible()
    expect(card.get_by_role("button", name="Ask to join")).to_have_count(0)

    _, olivia = sign_in(browser, scene, "olivia")
    open_moderation(olivia)
    request = olivia.locator("article.request")
    expect(request).to_contain_text("Carabineros")
    expect(request).to_contain_text("Carabineros cybercrime unit")
    request.get_by_role("button", name="Approve as participant").click()
    expect(olivia.get_by_text("The request was approved")).to_be_visible()

    ursula.reload()
    card.get_by_role("link", name="Ops").click()
    expect(ursula.locator("#status")).to_have_attribute("data-state", "online")
    expect(ursula.get_by_role("textbox", name="Message")).to_be_visible()


def test_a_member_whose_institution_becomes_observer_loses_the_composer_at_once(
    scene: Scene, browser: Browser
) -> None:
    _, gabriela = sign_in(browser, scene, "gabriela")
    open_channel(gabriela)
    expect(gabriela.get_by_role("textbox", name="Message")).to_be_visible()

    _, olivia = sign_in(browser, scene, "olivia")
    open_moderation(olivia)
    row = olivia.locator('tr[data-institution="fiscalia-peru"]')
    row.get_by_label("Role of Fiscalia Peru").select_option("observer")
    row.get_by_role("button", name="Change role").click()
    expect(olivia.get_by_text("The role was changed.")).to_be_visible()

    # channel.role reaches the open page, which renders itself again for the new role.
    expect(gabriela.get_by_text("you can read but not post")).to_be_visible()
    expect(gabriela.get_by_role("textbox", name="Message")).to_have_count(0)
    expect(gabriela.locator("#status")).to_have_attribute("data-state", "online")

    row.get_by_label("Role of Fiscalia Peru").select_option("participant")
    row.get_by_role("button", name="Change role").click()
    expect(gabriela.get_by_role("textbox", name="Message")).to_be_visible()


def test_a_moderator_deletes_any_message_from_the_channel_page(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    message = post(api("mateo"), "off topic")
    _, gabriela = sign_in(browser, scene, "gabriela")
    open_channel(gabriela)
    _, olivia = sign_in(browser, scene, "olivia")
    open_channel(olivia)
    olivia.once("dialog", lambda dialog: dialog.accept())
    olivia.locator(f"#m-{message['id']}").get_by_role("button", name="Delete").click()
    for page in (olivia, gabriela):
        expect(
            page.locator(f"#m-{message['id']}").get_by_text("This message was deleted.")
        ).to_be_visible()
