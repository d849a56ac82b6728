"""The server-rendered pages: signing in and out, the catalogue, the channel page, for an
owner, a member, an observer and an outsider."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from channels_app.models import Channel
from permissions.membership.services import ban_create
from tests import factories
from tests.conftest import World
from tests.signing_in import signed_in

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


def catalogue_card(html: str, slug: str) -> str | None:
    match = re.search(rf'<li class="card" data-channel="{slug}">(.*?)</li>', html, re.S)
    return match.group(1) if match else None


def page_config(html: str) -> dict[str, object]:
    match = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html)
    assert match, "the channel page carries its configuration as a JSON data block"
    config: dict[str, object] = json.loads(match.group(1))
    return config


# --- signing in and out ----------------------------------------------------------------


def test_the_sign_in_page_shows_a_form_with_a_csrf_token() -> None:
    response = Client().get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'type="password"' in html
    assert "csrfmiddlewaretoken" in html


def test_it_signs_in_with_the_right_password_and_opens_the_catalogue(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    response = client.post(
        "/login/",
        {
            "username": "mateo",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies[settings.CSRF_COOKIE_NAME].value,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("catalogue")
    page = client.get("/")
    assert page.status_code == 200
    assert "Mateo" in page.content.decode()


def test_it_refuses_a_wrong_password_and_says_so(world: World) -> None:
    client = Client()
    response = client.post("/login/", {"username": "mateo", "password": "wrong password!"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_it_refuses_a_deactivated_user(world: World) -> None:
    world.member.is_active = False
    world.member.save()
    client = Client()
    response = client.post("/login/", {"username": "mateo", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_it_returns_to_the_page_asked_for_but_never_to_another_site(world: World) -> None:
    response = Client().post(
        "/login/", {"username": "mateo", "password": PASSWORD, "next": "/c/ops/"}
    )
    assert response["Location"] == "/c/ops/"
    response = Client().post(
        "/login/", {"username": "mateo", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("catalogue")


def test_it_sends_a_signed_in_user_from_the_login_page_to_the_catalogue(world: World) -> None:
    response = signed_in(world.member).get("/login/")
    assert response.status_code == 302
    assert response["Location"] == reverse("catalogue")


def test_it_signs_out_by_post_only(world: World) -> None:
    client = signed_in(world.member)
    assert client.get("/logout/").status_code == 405
    assert client.get("/").status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get("/").status_code == 302


def test_every_page_offers_sign_out_as_a_form_with_a_csrf_token(world: World) -> None:
    html = signed_in(world.member).get("/").content.decode()
    form = re.search(r'<form method="post" action="/logout/".*?</form>', html, re.S)
    assert form, "sign-out is a POST form"
    assert "csrfmiddlewaretoken" in form.group(0)


# --- the catalogue -----------------------------------------------------------------------


def test_the_catalogue_asks_an_anonymous_visitor_to_sign_in() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


@pytest.mark.parametrize(
    ("who", "linked", "says"),
    [
        ("owner", True, "You moderate this channel."),
        ("member", True, "Your institution takes part as a participant."),
        ("observer", True, "Your institution takes part as an observer"),
        ("outsider", False, "Your institution is not a member."),
    ],
)
def test_the_catalogue_tells_each_person_their_membership(
    world: World, who: str, linked: bool, says: str
) -> None:
    response = signed_in(getattr(world, who)).get("/")
    assert response.status_code == 200
    card = catalogue_card(response.content.decode(), "ops")
    assert card is not None, "a listed channel is in everyone's catalogue"
    assert ('href="/c/ops/"' in card) is linked
    assert says in card
    assert "Guardia Civil (ES)" in card
    assert "Policia Federal (BR)" in card
    assert "Carabineros" not in card


def test_the_catalogue_shows_an_unlisted_channel_to_its_members_only(world: World) -> None:
    secret = factories.make_channel("back-room", listed=False)
    factories.admit(secret, world.participant_institution)
    assert catalogue_card(signed_in(world.member).get("/").content.decode(), "back-room")
    outsider_page = signed_in(world.outsider).get("/").content.decode()
    assert catalogue_card(outsider_page, "back-room") is None
    assert "Back-Room" not in outsider_page


# --- the channel page --------------------------------------------------------------------


@pytest.mark.parametrize(("who", "can_post"), [("owner", True), ("member", True)])
def test_the_channel_page_gives_participants_a_composer(
    world: World, who: str, can_post: bool
) -> None:
    response = signed_in(getattr(world, who)).get("/c/ops/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Ops</h1>" in html
    assert 'id="composer"' in html
    config = page_config(html)
    assert config["channel"] == "ops"
    assert config["canPost"] is can_post
    assert config["username"] == getattr(world, who).username


def test_an_observer_reads_the_channel_page_without_a_composer(world: World) -> None:
    response = signed_in(world.observer).get("/c/ops/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="composer"' not in html
    assert "<textarea" not in html
    assert "you can read but not post" in html
    assert page_config(html)["canPost"] is False


def test_an_archived_channel_has_no_composer(world: World) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(archived=True)
    html = signed_in(world.owner).get("/c/ops/").content.decode()
    assert 'id="composer"' not in html
    assert "archived" in html
    assert page_config(html)["canPost"] is False


def test_an_outsider_gets_a_403_page_on_a_listed_channel_and_no_content(world: World) -> None:
    factories.post(world.member, world.channel, "the raid is on Tuesday")
    response = signed_in(world.outsider).get("/c/ops/")
    assert response.status_code == 403
    assert response.templates[0].name == "forbidden.html"
    html = response.content.decode()
    assert "Not a member" in html
    assert "Tuesday" not in html
    assert "page-config" not in html


def test_a_banned_user_gets_the_403_page(world: World) -> None:
    ban_create(actor=world.owner, channel=world.channel, user=world.member)
    assert signed_in(world.member).get("/c/ops/").status_code == 403


def test_staff_status_alone_opens_no_channel(world: World) -> None:
    admin = factories.make_user("admin", institution=world.outsider_institution, is_staff=True)
    admin.is_superuser = True
    admin.save()
    assert signed_in(admin).get("/c/ops/").status_code == 403


def test_an_unlisted_channel_is_not_found_for_an_outsider(world: World) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(listed=False)
    response = signed_in(world.outsider).get("/c/ops/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html
    assert "Ops" not in html
    assert signed_in(world.member).get("/c/ops/").status_code == 200


def test_an_unknown_channel_is_not_found(world: World) -> None:
    assert signed_in(world.member).get("/c/no-such-channel/").status_code == 404


def test_the_channel_page_asks_an_anonymous_visitor_to_sign_in(world: World) -> None:
    response = Client().get("/c/ops/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/c/ops/"


def test_the_channel_page_escapes_what_people_wrote(world: World) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(title="<script>alert(1)</script>")
    html = signed_in(world.member).get("/c/ops/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


def json_block(html: str, name: str) -> dict[str, object]:
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html)
    assert match, f"the page carries {name} as a JSON data block"
    block: dict[str, object] = json.loads(match.group(1))
    return block


def select_options(html: str, name: str) -> list[tuple[str, str, str]]:
    """(value, title, label) of the first <select name=...> in `html`."""
    match = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S)
    assert match, f"a select named {name}"
    return [
        (value, title, label)
        for value, title, label in re.findall(
            r'<option value="([^"]*)"(?: title="([^"]*)")?>([^<]*)</option>', match.group(1)
        )
    ]


def test_the_composer_offers_an_optional_evaluation_with_each_grade_explained(
    world: World,
) -> None:
    html = signed_in(world.member).get("/c/ops/").content.decode()
    start = html.index('<form id="composer"')
    composer = html[start : html.index("</form>", start)]
    assert "Evaluation (optional)" in composer
    reliability = select_options(composer, "source_reliability")
    assert [(value, label) for value, _, label in reliability] == [
        ("", "None"),
        ("A", "A — reliable"),
        ("B", "B — usually reliable"),
        ("C", "C — usually unreliable"),
        ("X", "X — cannot be judged"),
    ]
    assert reliability[2][1] == (
        "Source from whom information received has in most instances proved to be reliable"
    )
    assessment = select_options(composer, "information_assessment")
    assert [(value, label) for value, _, label in assessment] == [
        ("", "None"),
        ("1", "1 — known to be true"),
        ("2", "2 — known to the source"),
        ("3", "3 — corroborated"),
        ("4", "4 — not corroborated"),
    ]
    assert assessment[3][1] == (
        "Information not known personally to the source, but corroborated by other "
        "information already recorded"
    )


def test_the_channel_page_gives_its_module_the_evaluation_texts(world: World) -> None:
    html = signed_in(world.observer).get("/c/ops/").content.decode()
    assert 'id="composer"' not in html  # an observer evaluates nothing, but reads the badges
    text = json_block(html, "evaluation-text")
    assert [grade["value"] for grade in text["reliability"]] == ["A", "B", "C", "X"]  # type: ignore[index]
    assert [grade["value"] for grade in text["assessment"]] == ["1", "2", "3", "4"]  # type: ignore[index]
    assert "{code}" in str(text["described"])
    assert "both" in str(text["halfFilled"])
    assert 'id="evaluation-history-template"' in html


# --- ready for a Content-Security-Policy without 'unsafe-inline' -------------------------


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        self.styles += [tag for name, _ in attrs if name == "style"]


@pytest.mark.parametrize("path", ["/", "/c/ops/", "/login/"])
def test_pages_run_no_inline_script(world: World, path: str) -> None:
    client = Client() if path == "/login/" else signed_in(world.member)
    parser = _Scripts()
    parser.feed(client.get(path).content.decode())
    for script in parser.scripts:
        assert script.get("src") or script.get("type") == "application/json", script
    assert parser.handlers == []
    assert parser.styles == []


# --- translation -------------------------------------------------------------------------

# Names that stay as they are in every language.
NOT_TRANSLATED = {"Exchange"}
READ_ATTRIBUTES = ("placeholder", "title", "alt", "aria-label", "value")


def _untranslated(source: str) -> list[str]:
    text = re.sub(r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}", " ", source, flags=re.S)
    text = re.sub(r"{#.*?#}", " ", text, flags=re.S)
    found = []
    for name, value in re.findall(rf'\b({"|".join(READ_ATTRIBUTES)})="([^"]*)"', text):
        value = re.sub(r"{%.*?%}|{{.*?}}", "", value)
        if re.search(r"[^\W\d_]{2,}", value):
            found.append(f'{name}="{value}"')
    text = re.sub(r"{%.*?%}|{{.*?}}", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    found += [word for word in re.findall(r"[^\W\d_]{2,}", text) if word not in NOT_TRANSLATED]
    return found


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_every_text_a_user_reads_is_marked_for_translation(template: str) -> None:
    assert _untranslated((TEMPLATES / template).read_text()) == []


def test_the_translation_check_catches_plain_text() -> None:
    assert _untranslated('<p>Hello <b>{{ name }}</b></p><input placeholder="Type">') == [
        'placeholder="Type"',
        "Hello",
    ]
    assert _untranslated('<p>{% translate "Hello" %} {{ name }}</p>') == []


def test_the_page_follows_the_reader_language(world: World) -> None:
    response = signed_in(world.member).get("/c/ops/", headers={"Accept-Language": "es"})
    assert '<html lang="es">' in response.content.decode()
