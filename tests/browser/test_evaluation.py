"""The 4x4 evaluation (SPEC §2) on the channel page in a real browser: Debian's headless
Chromium, driven by Playwright, against a real daphne. An author grades what they send,
changes the grade later, and every open page shows the change at once through the socket;
anyone who reads the channel sees the grade and its history.

The scene is tests/browser/test_channel_page.py's: the standing world plus gabriela, a participant
of a second institution (Fiscalia Peru), everyone able to sign in with the password.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, Locator, Page, expect

from tests.browser import test_channel_page as test_browser
from tests.browser.test_channel_page import Scene, open_channel, sign_in

pytestmark = pytest.mark.browser

scene = test_browser.scene  # the same fixture: a live daphne and the people above

B_MEANS = "Source from whom information received has in most instances proved to be reliable"
TWO_MEANS = (
    "Information known personally to the source but not known personally to the official "
    "who is passing it on"
)
C_MEANS = "Source from whom information received has in most instances proved to be unreliable"
THREE_MEANS = (
    "Information not known personally to the source, but corroborated by other information "
    "already recorded"
)


def badge(page: Page, message_id: int | str) -> Locator:
    """The evaluation beside the handling code of one message (not of its replies)."""
    return page.locator(f"#m-{message_id} > .meta > .evaluation")


def sent_frames(page: Page) -> list[dict[str, Any]]:
    """Every frame the page sends on its sockets from now on (register before goto)."""
    frames: list[dict[str, Any]] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framesent",
            lambda payload: (
                frames.append(json.loads(payload)) if isinstance(payload, str) else None
            ),
        ),
    )
    return frames


def messages_of(api: APIRequestContext) -> list[dict[str, Any]]:
    response = api.get("/api/v1/channels/ops/messages")
    assert response.status == 200, response.text()
    messages: list[dict[str, Any]] = response.json()
    return messages


def test_an_evaluation_goes_out_with_a_message_and_its_author_changes_it_live(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    _, gabriela = sign_in(browser, scene, "gabriela")  # Fiscalia Peru (PE)
    _, mateo = sign_in(browser, scene, "mateo")  # Guardia Civil (ES)
    open_channel(gabriela)
    open_channel(mateo)

    composer = gabriela.locator("#composer")
    composer.get_by_role("textbox", name="Message").fill("The shipment leaves Callao on Friday")
    composer.get_by_label("Source reliability").select_option(label="B — usually reliable")
    composer.get_by_label("Information assessment").select_option(label="2 — known to the source")
    composer.get_by_role("button", name="Send").click()

    item = mateo.locator("#messages > li.message").first
    expect(item.locator(".body")).to_contain_text("Callao")
    message_id = item.get_attribute("data-id")
    assert message_id
    expect(badge(mateo, message_id)).to_have_text("B2")
    expect(badge(mateo, message_id)).to_have_attribute("title", re.compile(re.escape(B_MEANS)))
    expect(badge(mateo, message_id)).to_have_attribute("title", re.compile(re.escape(TWO_MEANS)))
    expect(item.get_by_role("img", name=re.compile(rf"B2.*{re.escape(TWO_MEANS)}"))).to_be_visible()
    expect(badge(gabriela, message_id)).to_have_text("B2")
    # The composer is ready for the next message: both grades back to none.
    expect(composer.get_by_label("Source reliability")).to_have_value("")
    expect(composer.get_by_label("Information assessment")).to_have_value("")
    stored = next(m for m in messages_of(api("mateo")) if str(m["id"]) == message_id)
    assert stored["evaluation"] == {"source_reliability": "B", "information_assessment": 2}

    # Only the author evaluates: mateo may post, but this is not his message.
    expect(item.get_by_role("button", name="Evaluate")).to_be_hidden()
    own = gabriela.locator(f"#m-{message_id}")
    own.get_by_role("button", name="Evaluate").click()
    form = own.locator(".evaluate-form")
    expect(form.get_by_label("Source reliability")).to_have_value("B")
    expect(form.get_by_label("Information assessment")).to_have_value("2")
    form.get_by_label("Source reliability").select_option("C")
    form.get_by_label("Information assessment").select_option("3")
    form.get_by_role("button", name="Save the evaluation").click()
    expect(form).to_have_count(0)
    for page in (gabriela, mateo):
        expect(badge(page, message_id)).to_have_text("C3")
        expect(badge(page, message_id)).to_have_attribute("title", re.compile(re.escape(C_MEANS)))
        expect(badge(page, message_id)).to_have_attribute(
            "title", re.compile(re.escape(THREE_MEANS))
        )
    expect(item.locator(".body")).to_contain_text("Callao")  # the body is left as it was

    item.get_by_role("button", name="Evaluation history").click()
    history = item.locator(".evaluation-log")
    changes = history.locator(".changes > li")
    expect(changes).to_have_count(2)
    expect(changes.nth(0).locator(".evaluation")).to_have_text("B2")
    expect(changes.nth(1).locator(".evaluation")).to_have_text("C3")
    for index in (0, 1):
        expect(changes.nth(index).locator(".who")).to_have_text("Gabriela")
        expect(changes.nth(index).locator(".institution")).to_have_text("Fiscalia Peru (PE)")
        expect(changes.nth(index).locator("time")).not_to_be_empty()
    history.get_by_role("button", name="Close").click()
    expect(history).to_have_count(0)

    # "None" in both clears it: the badge goes from every page, the history stays.
    own.get_by_role("button", name="Evaluate").click()
    form.get_by_label("Source reliability").select_option("")
    form.get_by_label("Information assessment").select_option("")
    form.get_by_role("button", name="Save the evaluation").click()
    for page in (gabriela, mateo):
        expect(badge(page, message_id)).to_be_hidden()
    item.get_by_role("button", name="Evaluation history").click()
    expect(changes).to_have_count(3)
    expect(changes.nth(2)).to_contain_text("Evaluation removed")


def test_half_an_evaluation_is_refused_in_the_page_and_nothing_is_sent(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    context, gabriela = sign_in(browser, scene, "gabriela")
    frames = sent_frames(gabriela)
    open_channel(gabriela)
    composer = gabriela.locator("#composer")
    textbox = composer.get_by_role("textbox", name="Message")
    textbox.fill("a tip from an informant")
    composer.get_by_label("Source reliability").select_option("X")
    composer.get_by_role("button", name="Send").click()

    problem = composer.get_by_role("alert")
    expect(problem).to_contain_text("Choose both a source reliability and an information")
    expect(textbox).to_have_value("a tip from an informant")
    expect(composer.get_by_label("Source reliability")).to_have_value("X")
    assert [f for f in frames if f["type"] == "message.send"] == []
    assert messages_of(api("gabriela")) == []

    # Completing the pair clears the problem, and the message goes out with both grades.
    composer.get_by_label("Information assessment").select_option("4")
    expect(problem).to_be_hidden()
    composer.get_by_role("button", name="Send").click()
    expect(gabriela.locator("#messages > li.message .meta > .evaluation")).to_have_text("X4")
    sends = [f for f in frames if f["type"] == "message.send"]
    assert [f["evaluation"] for f in sends] == [
        {"source_reliability": "X", "information_assessment": 4}
    ]

    # The "Evaluate" form refuses half a change too, without a request.
    patches: list[str] = []
    context.on("request", lambda r: patches.append(r.url) if r.method == "PATCH" else None)
    own = gabriela.locator("#messages > li.message").first
    own.get_by_role("button", name="Evaluate").click()
    form = own.locator(".evaluate-form")
    form.get_by_label("Information assessment").select_option("")
    form.get_by_role("button", name="Save the evaluation").click()
    expect(form.get_by_role("alert")).to_contain_text("Choose both")
    assert patches == []
    expect(own.locator(".meta > .evaluation")).to_have_text("X4")
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_have_count(0)


def test_an_observer_sees_the_evaluation_and_its_history_but_cannot_evaluate(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext]
) -> None:
    created = api("mateo").post(
        "/api/v1/channels/ops/messages",
        data={
            "body": "the suspect uses two passports",
            "client_id": str(uuid.uuid4()),
            "evaluation": {"source_reliability": "A", "information_assessment": 1},
        },
    )
    assert created.status == 201, created.text()
    message = created.json()
    _, oscar = sign_in(browser, scene, "oscar")
    open_channel(oscar)
    item = oscar.locator(f"#m-{message['id']}")
    expect(badge(oscar, message["id"])).to_have_text("A1")
    expect(item.locator("button.evaluate")).to_have_count(1)  # there, but not for an observer
    expect(item.locator("button.evaluate")).to_be_hidden()
    expect(oscar.locator("#composer")).to_have_count(0)

    # The author clears it elsewhere: the badge goes at once; the history still opens.
    cleared = api("mateo").patch(f"/api/v1/messages/{message['id']}", data={"evaluation": None})
    assert cleared.status == 200, cleared.text()
    expect(badge(oscar, message["id"])).to_be_hidden()
    item.get_by_role("button", name="Evaluation history").click()
    changes = item.locator(".evaluation-log .changes > li")
    expect(changes).to_have_count(2)
    expect(changes.nth(0).locator(".evaluation")).to_have_text("A1")
    expect(changes.nth(0).locator(".who")).to_have_text("Mateo")
    expect(changes.nth(1)).to_contain_text("Evaluation removed")
    expect(item.get_by_role("button", name="Evaluate")).to_be_hidden()
