"""Password guessing on the sign-in page: django-axes locks a username out for a
cool-off after EXCHANGE_LOGIN_FAILURE_LIMIT failures in a row, counted per username and
per address+username, never per address alone; and the page says the same thing whether
the username exists or not."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.test import Client
from django.utils import timezone

from tests import factories
from tests.conftest import World
from tests.signing_in import PASSWORD

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT


def sign_in(username: str, password: str, address: str = "203.0.113.7") -> tuple[Client, int, str]:
    client = Client(REMOTE_ADDR=address)
    response = client.post("/login/", {"username": username, "password": password})
    return client, response.status_code, response.content.decode()


def without_csrf_token(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_the_defaults_are_five_failures_and_fifteen_minutes() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_guessing_a_password_locks_that_username_out_even_for_the_right_password(
    world: World,
) -> None:
    for _ in range(LIMIT - 1):
        _, status, _ = sign_in("mateo", "wrong password!")
        assert status == 200
    _, status, _ = sign_in("mateo", "wrong password!")
    assert status == 429, "the failure that reaches the limit is answered with the lockout"
    client, status, html = sign_in("mateo", PASSWORD)
    assert status == 429
    assert "Too many failed sign-ins for this account" in html
    assert "Try again in 15 minutes" in html
    assert "_auth_user_id" not in client.session


def test_a_lockout_comes_from_any_address_once_the_username_is_locked(world: World) -> None:
    for _ in range(LIMIT):
        sign_in("mateo", "wrong password!", address="203.0.113.7")
    _, status, _ = sign_in("mateo", PASSWORD, address="198.51.100.9")
    assert status == 429


def test_one_users_failures_from_a_shared_office_address_do_not_lock_out_a_colleague(
    world: World,
) -> None:
    for _ in range(LIMIT + 2):
        sign_in("mateo", "wrong password!", address="203.0.113.7")
    client, status, _ = sign_in("olivia", PASSWORD, address="203.0.113.7")
    assert status == 302
    assert client.session["_auth_user_id"] == str(world.owner.pk)


def test_the_lockout_is_a_cool_off_that_lifts_by_itself(world: World) -> None:
    for _ in range(LIMIT):
        sign_in("mateo", "wrong password!")
    assert sign_in("mateo", PASSWORD)[1] == 429
    # The cool-off passes: the failures are now older than it.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert sign_in("mateo", PASSWORD)[1] == 302


def test_a_successful_sign_in_starts_the_count_again(world: World) -> None:
    for _ in range(LIMIT - 1):
        sign_in("mateo", "wrong password!")
    assert sign_in("mateo", PASSWORD)[1] == 302
    for _ in range(LIMIT - 1):
        sign_in("mateo", "wrong password!")
    assert sign_in("mateo", PASSWORD)[1] == 302


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(world: World) -> None:
    _, known_status, known = sign_in("mateo", "wrong password!")
    _, unknown_status, unknown = sign_in("nobody-here", "wrong password!")
    assert known_status == unknown_status == 200
    assert without_csrf_token(known) == without_csrf_token(unknown).replace(
        'value="nobody-here"', 'value="mateo"'
    )


def test_an_unknown_username_is_locked_out_with_the_same_page(world: World) -> None:
    for username in ("mateo", "nobody-here"):
        for _ in range(LIMIT):
            sign_in(username, "wrong password!")
    _, known_status, known = sign_in("mateo", "wrong password!")
    _, unknown_status, unknown = sign_in("nobody-here", "wrong password!")
    assert known_status == unknown_status == 429
    assert without_csrf_token(known) == without_csrf_token(unknown)


def test_sign_in_pages_fire_djangos_sign_in_signals_for_the_audit_log(world: World) -> None:
    seen: list[tuple[str, str]] = []

    def on_success(sender: object, request: object, user: object, **kwargs: object) -> None:
        seen.append(("in", str(user)))

    def on_failure(sender: object, credentials: dict[str, str], **kwargs: object) -> None:
        seen.append(("failed", credentials["username"]))

    user_logged_in.connect(on_success, dispatch_uid="test-success")
    user_login_failed.connect(on_failure, dispatch_uid="test-failure")
    try:
        sign_in("mateo", "wrong password!")
        sign_in("mateo", PASSWORD)
    finally:
        user_logged_in.disconnect(dispatch_uid="test-success")
        user_login_failed.disconnect(dispatch_uid="test-failure")
    assert seen == [("failed", "mateo"), ("in", "mateo")]


def test_the_admin_sign_in_is_guarded_by_the_same_lockout(world: World) -> None:
    factories.make_user("ada", institution=world.outsider_institution, is_staff=True)
    for _ in range(LIMIT):
        Client(REMOTE_ADDR="203.0.113.7").post(
            "/admin/login/", {"username": "ada", "password": "wrong password!"}
        )
    response = Client(REMOTE_ADDR="203.0.113.7").post(
        "/admin/login/", {"username": "ada", "password": PASSWORD}
    )
    assert response.status_code == 429
