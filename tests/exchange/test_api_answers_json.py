"""Every answer under /api/ is JSON in SPEC §3's error shape (or a JSON success),
whatever the method, path and credentials: issue 11's "HTML CSRF page" attack."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.http import HttpResponse
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.conftest import World

pytestmark = pytest.mark.django_db

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
UNSAFE = ["POST", "PUT", "PATCH", "DELETE"]
UNKNOWN = ["/api/v1/no-such-route", "/api/v1/messages/1/nope", "/api/v1/channels/ops/bans/a%2Fb"]


# What a body may claim to be: JSON, forms with and without (or with a hostile) boundary.
CONTENT_TYPES = [
    "application/json",
    "multipart/form-data",
    "multipart/form-data; boundary=" + "b" * 300,
    "multipart/form-data; boundary=b",
    "application/x-www-form-urlencoded",
    "text/plain",
]


def send(
    client: Client,
    method: str,
    path: str,
    *,
    body: bytes = b"{}",
    content_type: str = "application/json",
    **headers: str,
) -> HttpResponse:
    response: HttpResponse = client.generic(
        method, path, data=body, content_type=content_type, headers=headers
    )
    return response


def assert_spec_json(response: HttpResponse, method: str) -> None:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    if method == "HEAD" or not response.content:
        return
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert set(body) == {"error"}
        assert isinstance(body["error"]["code"], str)
        assert isinstance(body["error"]["message"], str)


@pytest.mark.parametrize("method", UNSAFE)
@pytest.mark.parametrize("path", UNKNOWN)
def test_an_unsafe_method_on_an_unknown_api_route_gets_a_json_404_not_the_html_csrf_page(
    world: World, method: str, path: str
) -> None:
    token = factories.token_for(world.member)
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        response = send(Client(enforce_csrf_checks=True), method, path, **headers)
        assert response.status_code == 404
        assert_spec_json(response, method)
        assert json.loads(response.content)["error"]["code"] == "not_found"


def test_a_cookie_session_post_to_a_real_route_without_the_csrf_token_is_still_refused(
    world: World,
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.member)
    response = send(client, "POST", "/api/v1/channels/ops/messages")
    assert response.status_code == 403
    assert_spec_json(response, "POST")
    assert json.loads(response.content)["error"]["code"] == "forbidden"


segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12
)
paths = st.lists(
    st.one_of(segment, st.sampled_from(["v1", "messages", "1", "channels", "ops"])), max_size=5
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(METHODS),
    parts=paths,
    bearer=st.booleans(),
    session=st.booleans(),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=st.one_of(st.just(b"{}"), st.binary(max_size=200)),
)
def test_any_method_and_path_under_api_gets_a_json_answer_with_or_without_credentials(
    world: World,
    method: str,
    parts: list[str],
    bearer: bool,
    session: bool,
    content_type: str,
    body: bytes,
) -> None:
    path = "/api/" + "/".join(quote(part, safe="") for part in parts)
    if path.rstrip("/") == "/api/v1/docs":
        return  # the OpenAPI page is HTML on purpose
    client = Client(enforce_csrf_checks=True)
    if session:
        client.force_login(world.member)
    headers = {"Authorization": f"Bearer {factories.token_for(world.member)}"} if bearer else {}
    response = send(client, method, path, body=body, content_type=content_type, **headers)
    assert_spec_json(response, method)
    assert response.status_code != 500, response.content


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("body", [b"", b"--b\r\n", b"\xff\xfe garbage", b"--b--\r\n"])
def test_any_body_to_a_real_write_route_gets_spec_json_and_never_500(
    world: World, content_type: str, body: bytes
) -> None:
    """Found after issue 11: a multipart body with no boundary, or an overlong one, made
    Django's parser raise inside ninja: 500 `server_error`."""
    token = factories.token_for(world.member)
    for path in ("/api/v1/channels/ops/attachments", "/api/v1/channels/ops/messages"):
        response = send(
            Client(),
            "POST",
            path,
            body=body,
            content_type=content_type,
            Authorization=f"Bearer {token}",
        )
        assert_spec_json(response, "POST")
        assert response.status_code in (400, 413), (path, response.content)


def test_a_host_header_not_allowed_gets_spec_json_under_api_and_html_on_pages(
    world: World, settings: Any
) -> None:
    """Django refuses a Host outside ALLOWED_HOSTS before any view: its HTML 400 page
    answered API clients too."""
    settings.DEBUG = False
    token = factories.token_for(world.member)
    response = Client().get(
        "/api/v1/me", headers={"Host": "evil.example", "Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert_spec_json(response, "GET")
    assert json.loads(response.content)["error"]["code"] == "bad_request"
    page = Client().get("/login/", headers={"Host": "evil.example"})
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
