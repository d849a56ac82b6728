"""Two-factor sign-in over the pages and the JSON API: who must use it, enrolment, the
code step, its throttling, and what a session that passed only the password may do.

Codes are computed from the device's key as an authenticator app computes them."""

from __future__ import annotations

import re
import time
from base64 import b32decode
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken

from permissions.models import User
from permissions.sign_in.two_factor import two_factor_required
from tests import factories
from tests.conftest import World, api_client
from tests.signing_in import PASSWORD, signed_in, totp_code, totp_device

pytestmark = pytest.mark.django_db


def password_only(username: str, next_url: str = "") -> tuple[Client, str]:
    """A client that has passed the password step; returns it and where it was sent."""
    client = Client()
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    response = client.post("/login/", data)
    assert response.status_code == 302, response.content
    return client, response["Location"]


def secret_on(html: str) -> bytes:
    match = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert match, "the enrolment page shows the secret as text"
    return b32decode(match.group(1).replace(" ", ""))


def code_from(secret: bytes) -> str:
    totp = TOTP(secret)
    totp.time = time.time()
    return f"{totp.token():06d}"


# --- who must use it ---------------------------------------------------------------------


def test_two_factor_is_required_of_moderators_focal_points_admins_and_opted_in_institutions(
    world: World,
) -> None:
    assert two_factor_required(world.owner)  # moderates "ops"
    assert not two_factor_required(world.member)
    assert not two_factor_required(world.observer)
    focal = factories.make_user(
        "fiona", institution=world.outsider_institution, is_focal_point=True
    )
    admin = factories.make_user("ada", institution=world.outsider_institution, is_staff=True)
    assert two_factor_required(focal) and two_factor_required(admin)
    world.observer_institution.require_two_factor = True
    world.observer_institution.save()
    assert two_factor_required(User.objects.get(pk=world.observer.pk))


# --- enrolment ---------------------------------------------------------------------------


def test_a_moderator_without_a_device_must_enrol_before_any_page(world: World) -> None:
    client, step = password_only("olivia")
    assert step == "/two-factor/enrol/?next=%2F"
    for page in ("/", "/c/ops/", "/keys/", "/password/"):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/two-factor/enrol/?next=")
    enrol = client.get(step)
    assert enrol.status_code == 200
    html = enrol.content.decode()
    qr = re.search(r'data-testid="totp-qr"[^>]*>\s*<svg [^>]*class="segno"', html)
    assert qr, "the QR code is SVG drawn on the server, inline"
    assert "<script" not in html.split("<main>")[1], "no script on the enrolment page"
    assert len(secret_on(html)) == 20


def test_enrolment_is_confirmed_by_one_valid_code_and_then_shows_backup_codes(
    world: World,
) -> None:
    client, step = password_only("olivia", next_url="/c/ops/")
    secret = secret_on(client.get(step).content.decode())
    assert secret == secret_on(client.get(step).content.decode()), "one device per enrolment"
    done = client.post(step, {"code": code_from(secret)})
    assert done.status_code == 200
    html = done.content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", html)
    assert len(codes) == 10
    assert set(codes) == set(
        StaticToken.objects.filter(device__user=world.owner).values_list("token", flat=True)
    )
    assert 'href="/c/ops/"' in html
    assert client.get("/c/ops/").status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_enrolment_refuses_a_wrong_code_and_stays_unfinished(world: World) -> None:
    client, step = password_only("olivia")
    secret = secret_on(client.get(step).content.decode())
    wrong = client.post(step, {"code": "000000" if code_from(secret) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert "That code is not right" in wrong.content.decode()
    assert client.get("/").status_code == 302
    assert not world.owner.totpdevice_set.filter(confirmed=True).exists()


def test_a_member_may_turn_two_factor_on_and_is_then_asked_for_a_code(world: World) -> None:
    client = signed_in(world.member)
    page = client.get("/two-factor/enrol/")
    assert page.status_code == 200
    client.post("/two-factor/enrol/", {"code": code_from(secret_on(page.content.decode()))})
    assert client.get("/two-factor/enrol/").content.decode().count("Two-factor sign-in is on")

    _, step = password_only("mateo")
    assert step == "/two-factor/?next=%2F"


def test_a_password_alone_cannot_replace_an_enrolled_device(world: World) -> None:
    totp_device(world.owner)
    client, _ = password_only("olivia")
    response = client.get("/two-factor/enrol/")
    assert response.status_code == 302
    assert response["Location"].startswith("/two-factor/?next=")
    assert client.post("/two-factor/enrol/", {"code": "123456"}).status_code == 302


def test_an_institution_that_requires_two_factor_sends_its_users_to_enrolment(
    world: World,
) -> None:
    _, step = password_only("oscar")
    assert step == "/"
    world.observer_institution.require_two_factor = True
    world.observer_institution.save()
    client, step = password_only("oscar")
    assert step == "/two-factor/enrol/?next=%2F"
    assert client.get("/api/v1/me").json()["error"]["code"] == "two_factor_required"


def test_a_platform_admin_reaches_the_admin_only_after_the_code(world: World) -> None:
    admin = factories.make_user("ada", is_staff=True)
    admin.is_superuser = True
    admin.save()
    device = totp_device(admin)
    client = Client()
    client.post("/admin/login/", {"username": "ada", "password": PASSWORD})
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/two-factor/?next=%2Fadmin%2F"
    client.post(response["Location"], {"code": totp_code(device)})
    assert client.get("/admin/").status_code == 200


# --- the code step -----------------------------------------------------------------------


def test_a_password_only_session_is_sent_to_the_code_step_from_every_page(
    world: World,
) -> None:
    totp_device(world.owner)
    client, step = password_only("olivia", next_url="/c/ops/")
    assert step == "/two-factor/?next=%2Fc%2Fops%2F"
    for page in ("/", "/c/ops/", "/keys/", "/two-factor/enrol/"):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/two-factor/?next=")


def test_a_password_only_session_gets_401_two_factor_required_from_the_api(
    world: World,
) -> None:
    totp_device(world.owner)
    client, _ = password_only("olivia")
    for path in ("/api/v1/me", "/api/v1/channels", "/api/v1/channels/ops/messages"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "two_factor_required"


def test_the_right_code_completes_sign_in_and_returns_to_the_page_asked_for(
    world: World,
) -> None:
    device = totp_device(world.owner)
    client, step = password_only("olivia", next_url="/c/ops/")
    response = client.post(step, {"code": totp_code(device)})
    assert response.status_code == 302
    assert response["Location"] == "/c/ops/"
    assert client.get("/c/ops/").status_code == 200
    assert client.get("/api/v1/me").json()["username"] == "olivia"


def test_the_code_step_never_returns_to_another_site(world: World) -> None:
    device = totp_device(world.owner)
    client, _ = password_only("olivia")
    response = client.post("/two-factor/?next=https://evil.example/", {"code": totp_code(device)})
    assert response["Location"] == "/"


def test_a_code_is_accepted_once(world: World) -> None:
    device = totp_device(world.owner)
    code = totp_code(device)
    first, step = password_only("olivia")
    assert first.post(step, {"code": code}).status_code == 302
    second, step = password_only("olivia")
    replay = second.post(step, {"code": code})
    assert replay.status_code == 200
    assert "That code is not right" in replay.content.decode()
    assert second.get("/").status_code == 302


def test_a_backup_code_signs_in_once(world: World) -> None:
    client = signed_in(world.owner, verified=False)
    secret = secret_on(client.get("/two-factor/enrol/").content.decode())
    html = client.post("/two-factor/enrol/", {"code": code_from(secret)}).content.decode()
    backup = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", html)[0]

    first, step = password_only("olivia")
    assert first.post(step, {"code": backup.upper()}).status_code == 302
    assert first.get("/").status_code == 200
    second, step = password_only("olivia")
    assert second.post(step, {"code": backup}).status_code == 200
    assert second.get("/").status_code == 302


def test_wrong_codes_throttle_the_code_step_so_that_guessing_stalls(
    world: World, settings: Any
) -> None:
    # A wait of a minute after the first wrong code, rather than the default second, so
    # that the refusal below never depends on how fast this machine runs the test.
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    device = totp_device(world.owner)
    client, step = password_only("olivia")
    right = totp_code(device)
    wrong = "000000" if right != "000000" else "111111"
    assert client.post(step, {"code": wrong}).status_code == 200
    response = client.post(step, {"code": right})
    assert response.status_code == 429
    assert "Too many wrong codes" in response.content.decode()
    assert 1 <= int(response["Retry-After"]) <= 60
    assert client.get("/").status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_throttling_of_codes_is_on_by_default() -> None:
    from django.conf import settings

    assert settings.OTP_TOTP_THROTTLE_FACTOR >= 1
    assert settings.OTP_STATIC_THROTTLE_FACTOR >= 1


def test_the_code_step_asks_an_anonymous_visitor_to_sign_in_first() -> None:
    response = Client().get("/two-factor/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- bearer tokens -----------------------------------------------------------------------


def test_a_bearer_token_cannot_mint_tokens_for_a_two_factor_user(world: World) -> None:
    totp_device(world.owner)
    response = api_client(world.owner).post(
        "/api/v1/tokens", {"name": "more"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "two_factor_required"


def test_a_password_only_session_cannot_mint_tokens(world: World) -> None:
    totp_device(world.owner)
    client, _ = password_only("olivia")
    response = client.post("/api/v1/tokens", {"name": "x"}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "two_factor_required"


def test_a_verified_session_mints_a_token_that_then_works_on_its_own(world: World) -> None:
    client = signed_in(world.owner)
    response = client.post("/api/v1/tokens", {"name": "cli"}, content_type="application/json")
    assert response.status_code == 201
    token = response.json()["token"]
    me = Client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "olivia"


def test_a_user_without_two_factor_still_mints_tokens_with_a_bearer_token(
    world: World,
) -> None:
    response = api_client(world.member).post(
        "/api/v1/tokens", {"name": "more"}, content_type="application/json"
    )
    assert response.status_code == 201
