"""Sessions over HTTP: a new key at every step up in trust (session fixation), the
cookie flags, the idle and absolute timeouts, and a password change signing out the
user's other sessions."""

from __future__ import annotations

import time
from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client

from permissions.sign_in.sessions import SIGNED_IN_AT
from tests.conftest import World
from tests.signing_in import PASSWORD, signed_in, totp_code, totp_device

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a different horse, battery and staple"


def planted_session(client: Client) -> str:
    """A session an attacker made and got the victim's browser to carry."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["planted"] = True
    store.save()
    assert store.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    return store.session_key


def test_sign_in_does_not_keep_a_planted_session_key(world: World) -> None:
    client = Client()
    planted = planted_session(client)
    response = client.post("/login/", {"username": "mateo", "password": PASSWORD})
    assert response.status_code == 302
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key != planted
    assert client.get("/").status_code == 200
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted
    assert attacker.get("/").status_code == 302


def test_the_code_step_gives_the_session_another_new_key(world: World) -> None:
    device = totp_device(world.owner)
    client = Client()
    client.post("/login/", {"username": "olivia", "password": PASSWORD})
    after_password = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post("/two-factor/", {"code": totp_code(device)})
    after_code = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after_code != after_password
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = after_password
    assert stale.get("/").status_code == 302


def test_the_session_cookie_is_secure_httponly_and_samesite(world: World) -> None:
    # The test settings run with DEBUG off, as production does.
    response = Client().post("/login/", {"username": "mateo", "password": PASSWORD})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] and cookie["httponly"]
    assert cookie["samesite"] in ("Lax", "Strict")
    assert int(cookie["max-age"]) == 30 * 60
    csrf = Client().get("/login/").cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"]
    assert csrf["samesite"] in ("Lax", "Strict")


def test_every_request_pushes_the_idle_timeout_back(world: World) -> None:
    client = signed_in(world.member)
    response = client.get("/")
    assert int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"]) == 30 * 60
    assert client.session.get_expiry_age() == 30 * 60


def test_an_idle_session_expires(world: World) -> None:
    client = signed_in(world.member)
    session = client.session
    session.set_expiry(-1)  # its idle time ran out
    session.save()
    assert client.get("/").status_code == 302


def test_a_session_past_its_absolute_lifetime_is_signed_out_however_busy(world: World) -> None:
    client = signed_in(world.member)
    session = client.session
    session[SIGNED_IN_AT] = int(time.time()) - 12 * 3600 - 60
    session.save()
    response = client.get("/c/ops/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/c/ops/"
    assert client.get("/api/v1/me").status_code == 401


def test_a_session_within_its_absolute_lifetime_stays(world: World) -> None:
    client = signed_in(world.member)
    session = client.session
    session[SIGNED_IN_AT] = int(time.time()) - 11 * 3600
    session.save()
    assert client.get("/").status_code == 200


def test_the_api_signs_out_a_session_past_its_absolute_lifetime_too(world: World) -> None:
    client = signed_in(world.member)
    session = client.session
    session[SIGNED_IN_AT] = int(time.time()) - 13 * 3600
    session.save()
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_a_password_change_signs_out_the_users_other_sessions(world: World) -> None:
    changing = signed_in(world.member)
    other = signed_in(world.member)
    response = changing.post(
        "/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert changing.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert other.get("/api/v1/me").status_code == 401
    assert (
        Client().post("/login/", {"username": "mateo", "password": NEW_PASSWORD}).status_code == 302
    )


def test_a_wrong_current_password_changes_nothing(world: World) -> None:
    client = signed_in(world.member)
    response = client.post(
        "/password/",
        {
            "old_password": "not it at all",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert Client().post("/login/", {"username": "mateo", "password": PASSWORD}).status_code == 302
