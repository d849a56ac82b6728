"""The browser-facing defences every response carries, and Django's deployment checks.

Each test is named after the attack the header stops. That real pages break no rule of
the policy is shown in chromium (tests/test_browser_csp.py, and every browser test fails
on a CSP violation).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from permissions.models import User
from tests.conftest import World, api_client
from tests.exchange.test_settings import settings_of

ROOT = Path(__file__).resolve().parents[2]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def responses(world: World) -> dict[str, object]:
    """One page, one API read, one API write, one API error and a sign-in page."""
    member = signed_in(world.member)
    bearer = api_client(world.member)
    return {
        "page": member.get("/c/ops/"),
        "catalogue": member.get("/"),
        "login page": Client().get("/login/"),
        "api read": bearer.get("/api/v1/channels"),
        "api write": bearer.post(
            "/api/v1/channels/ops/messages",
            {"body": "hi", "client_id": "5b0c1b8e-2f0e-4a55-9d84-3c0f1c1f0a01"},
            content_type="application/json",
        ),
        "api error": bearer.get("/api/v1/channels/nope"),
        "api unauthenticated": Client().get("/api/v1/me"),
    }


@pytest.mark.django_db
def test_cross_site_scripting_is_contained_by_a_policy_without_inline_script_or_eval(
    world: World,
) -> None:
    for name, response in responses(world).items():
        header = response["Content-Security-Policy"]  # type: ignore[index]
        csp = policy(header)
        assert csp["default-src"] == ["'self'"], name
        assert csp["script-src"] == ["'self'"], name
        assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, name
        # The age bundle is plain JavaScript: not even WebAssembly compilation is allowed.
        assert "'wasm-unsafe-eval'" not in header, name
        assert csp["object-src"] == ["'none'"], name
        assert csp["base-uri"] == ["'none'"], name
        assert csp["form-action"] == ["'self'"], name
        assert csp["connect-src"] == ["'self'"], name  # CSP3: 'self' covers the page's ws/wss


@pytest.mark.django_db
def test_clickjacking_is_refused_by_frame_ancestors_and_x_frame_options(world: World) -> None:
    for name, response in responses(world).items():
        assert policy(response["Content-Security-Policy"])["frame-ancestors"] == ["'none'"], name  # type: ignore[index]
        assert response["X-Frame-Options"] == "DENY", name  # type: ignore[index]


@pytest.mark.django_db
def test_mime_sniffing_referrer_leaks_and_cross_window_access_are_refused(world: World) -> None:
    for name, response in responses(world).items():
        assert response["X-Content-Type-Options"] == "nosniff", name  # type: ignore[index]
        assert response["Referrer-Policy"] == "same-origin", name  # type: ignore[index]
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name  # type: ignore[index]


@pytest.mark.django_db
def test_ssl_stripping_is_refused_by_hsts_on_https_responses(world: World) -> None:
    response = signed_in(world.member).get("/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    api = Client(headers={"Authorization": "Bearer exch_nothing"})
    assert "max-age=31536000" in api.get("/api/v1/me", secure=True)["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in api.get("/api/v1/me"), "only over HTTPS"


def test_production_redirects_plain_http_and_trusts_only_the_configured_proxy_header() -> None:
    production = {"EXCHANGE_SECRET_KEY": "k" * 50}
    result = settings_of(
        production,
        "settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE,"
        " getattr(settings, 'SECURE_PROXY_SSL_HEADER', None)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True None"
    behind_nginx = {**production, "EXCHANGE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"}
    result = settings_of(behind_nginx, "settings.SECURE_PROXY_SSL_HEADER")
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')", result.stderr
    result = settings_of({**production, "EXCHANGE_PROXY_SSL_HEADER": "https"}, "1")
    assert result.returncode != 0 and "EXCHANGE_PROXY_SSL_HEADER" in result.stderr
    result = settings_of({"EXCHANGE_DEBUG": "1"}, "settings.SECURE_HSTS_SECONDS")
    assert result.stdout.strip() == "0", "the embedded mode must not pin localhost to HTTPS"


@pytest.mark.django_db
def test_an_api_client_on_plain_http_is_refused_rather_than_silently_redirected(
    world: World,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    bearer = api_client(world.member)
    refused = bearer.get("/api/v1/me")
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "forbidden",
        "message": "The API answers over HTTPS only.",
    }
    assert bearer.get("/api/v1/me", secure=True).status_code == 200
    page = Client().get("/login/")
    assert page.status_code == 301 and page["Location"] == "https://testserver/login/"


def test_session_and_csrf_cookies_are_host_only_and_secure_in_production() -> None:
    result = settings_of(
        {"EXCHANGE_SECRET_KEY": "k" * 50},
        "settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME,"
        " settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY",
    )
    assert result.stdout.strip() == "__Host-sessionid __Host-csrftoken True True", result.stderr


def test_a_wildcard_allowed_host_that_would_open_sockets_to_any_site_is_refused() -> None:
    result = settings_of({"EXCHANGE_DEBUG": "1", "EXCHANGE_ALLOWED_HOSTS": "*"}, "1")
    assert result.returncode != 0
    assert "EXCHANGE_ALLOWED_HOSTS" in result.stderr


def test_django_deployment_checks_pass_with_production_settings() -> None:
    """What `make lint` runs: `check --deploy` at warning level, nothing silenced."""
    env = {
        "PATH": os.environ["PATH"],
        "EXCHANGE_DEBUG": "0",
        "EXCHANGE_SECRET_KEY": secrets.token_urlsafe(50),
        "EXCHANGE_ALLOWED_HOSTS": "exchange.example.org",
        "EXCHANGE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout
    # And without HTTPS settings the same check fails: it is not silenced.
    insecure = {**env, "EXCHANGE_SSL_REDIRECT": "0", "EXCHANGE_HSTS_SECONDS": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=insecure,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "security.W008" in result.stderr + result.stdout
