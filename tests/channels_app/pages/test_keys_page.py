"""The pages' side of encrypted attachments: the key page, the key panel on the
catalogue and the channel page, and what the channel page tells its modules."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.test import Client

from channels_app.models import Channel, HistoryVisibility
from tests.conftest import World
from tests.signing_in import signed_in

pytestmark = pytest.mark.django_db


def json_block(html: str, element_id: str) -> dict[str, object]:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no {element_id} data block"
    data: dict[str, object] = json.loads(match.group(1))
    return data


@pytest.mark.parametrize("path", ["/keys/", "/", "/c/ops/"])
def test_pages_with_the_key_panel_carry_its_texts_and_a_csrf_cookie(
    world: World, path: str
) -> None:
    response = signed_in(world.member).get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="keys-panel" data-username="mateo"' in html
    text = json_block(html, "e2ee-text")
    assert text["channel"]["waiting"] == "Waiting for a member to share the channel key."  # type: ignore[index]
    assert settings.CSRF_COOKIE_NAME in response.cookies  # the page's scripts post with it


def test_the_key_page_asks_an_anonymous_visitor_to_sign_in() -> None:
    response = Client().get("/keys/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/keys/"


def test_the_key_page_runs_its_module_and_no_inline_script(world: World) -> None:
    html = signed_in(world.member).get("/keys/").content.decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == [
        '<script id="e2ee-text" type="application/json">',
        '<script type="module" src="/static/js/keys-page.js">',
    ]


def test_the_channel_page_tells_its_modules_the_history_rule_and_the_moderator(
    world: World,
) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(
        history_visibility=HistoryVisibility.SINCE_JOIN
    )
    owner = json_block(signed_in(world.owner).get("/c/ops/").content.decode(), "page-config")
    member = json_block(signed_in(world.member).get("/c/ops/").content.decode(), "page-config")
    assert (owner["historyVisibility"], owner["isModerator"]) == ("since_join", True)
    assert (member["historyVisibility"], member["isModerator"]) == ("since_join", False)
