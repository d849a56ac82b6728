"""The focal point's page, /institution/, in Django's test client, and the
recertification reminders every page shows."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.template.defaultfilters import date as date_filter
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from permissions.models import User
from tests import factories
from tests.conftest import World
from tests.signing_in import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def fiona(world: World) -> User:
    return factories.make_user(
        "fiona", institution=world.participant_institution, is_focal_point=True
    )


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_focal_point_sees_the_users_and_a_link_to_the_page(fiona: User) -> None:
    client = signed_in(fiona)
    assert 'href="/institution/"' in text(client.get("/"))
    response = client.get("/institution/")
    assert response.status_code == 200
    page = text(response)
    assert "Users of Guardia Civil" in page
    for username in ["fiona", "mateo", "olivia"]:
        assert f'data-username="{username}"' in page
        assert f'name="usernames" value="{username}" form="recertify-form"' in page
    assert "<script>" not in page and "onclick" not in page
    assert page.count('name="csrfmiddlewaretoken"') >= 5


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_anyone_but_a_focal_point_is_refused_the_page(world: World, who: str) -> None:
    client = signed_in(getattr(world, who))
    assert 'href="/institution/"' not in text(client.get("/"))
    assert client.get("/institution/").status_code == 403
    response = client.post("/institution/users/mateo/deactivate/")
    assert response.status_code == 403
    assert User.objects.get(username="mateo").is_active


def test_an_anonymous_visitor_is_sent_to_sign_in(world: World) -> None:
    response = Client().get("/institution/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_inviting_from_the_page_shows_the_link_once(
    fiona: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client = signed_in(fiona)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/institution/invite/",
            {
                "username": "nina",
                "email": "nina@guardia.example",
                "display_name": "Nina",
                "preferred_language": "pt",
            },
        )
    assert response.status_code == 200
    url = response.context["invite_url"]
    assert url.startswith("http://testserver/invite/")
    assert f'value="{url}"' in text(response)
    assert url in mail.outbox[0].body
    assert User.objects.get(username="nina").preferred_language == "pt"
    assert url not in text(client.get("/institution/"))


def test_a_refused_invitation_shows_why_on_the_form(world: World, fiona: User) -> None:
    response = signed_in(fiona).post(
        "/institution/invite/",
        {"username": "ursula", "email": "u@example.org", "preferred_language": "en"},
    )
    assert response.status_code == 409
    assert "is taken" in text(response)
    assert User.objects.get(username="ursula").institution == world.outsider_institution


def test_deactivating_and_reactivating_from_the_page(fiona: User) -> None:
    client = signed_in(fiona)
    response = client.post("/institution/users/mateo/deactivate/", follow=True)
    assert "mateo is deactivated" in text(response)
    assert not User.objects.get(username="mateo").is_active
    assert "Reactivate mateo" in text(response)
    response = client.post("/institution/users/mateo/reactivate/", follow=True)
    assert "mateo is active again" in text(response)
    assert User.objects.get(username="mateo").is_active
    recorded = AuditEvent.objects.filter(target="user:mateo", action__startswith="user.")
    recorded = recorded.exclude(action="user.created")
    assert [(e.action, e.actor) for e in recorded] == [
        ("user.deactivated", "fiona"),
        ("user.reactivated", "fiona"),
    ]


def test_confirming_ticked_users_from_the_page(fiona: User) -> None:
    long_ago = timezone.now() - timedelta(days=settings.RECERTIFY_DAYS + 3)
    User.objects.filter(username__in=["mateo", "olivia"]).update(certified_at=long_ago)
    client = signed_in(fiona)
    assert "due: confirm by" in text(client.get("/institution/"))
    response = client.post("/institution/recertify/", {"usernames": ["mateo"]}, follow=True)
    assert "Confirmed: mateo." in text(response)
    assert User.objects.get(username="mateo").certified_at > long_ago
    assert User.objects.get(username="olivia").certified_at == long_ago
    nothing = client.post("/institution/recertify/", {}, follow=True)
    assert "Tick the users you confirm." in text(nothing)


def test_the_forms_need_the_csrf_token(fiona: User) -> None:
    client = signed_in(fiona, enforce_csrf_checks=True)
    assert client.post("/institution/users/mateo/deactivate/").status_code == 403
    assert User.objects.get(username="mateo").is_active


def test_a_focal_point_is_reminded_of_users_due_on_every_page(world: World, fiona: User) -> None:
    due = timezone.now() - timedelta(days=settings.RECERTIFY_DAYS + 1)
    User.objects.filter(username__in=["mateo", "olivia"]).update(certified_at=due)
    client = signed_in(fiona)
    grace = timedelta(days=settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS)
    by = date_filter(due + grace, "DATE_FORMAT")
    for path in ["/", "/keys/", "/institution/"]:
        page = text(client.get(path))
        assert f"2 users of your institution need confirming by {by}." in page, path
    colleague = text(signed_in(User.objects.get(username="mateo")).get("/"))
    assert f"Your access needs to be confirmed by your institution's focal point by {by}" in (
        colleague
    )
    assert "need confirming" not in colleague
    assert "confirmed by your institution" not in text(signed_in(world.observer).get("/"))


def test_a_lapsed_user_is_told_their_access_ended_and_the_channel_page_refuses_them(
    world: World,
) -> None:
    lapsed_on = timezone.now() - timedelta(days=2)
    grace = timedelta(days=settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS)
    User.objects.filter(pk=world.member.pk).update(certified_at=lapsed_on - grace)
    client = signed_in(world.member)
    page = text(client.get("/"))
    assert f"Your access ended on {date_filter(lapsed_on, 'DATE_FORMAT')}" in page
    assert "needs to be confirmed" not in page
    assert client.get("/c/ops/").status_code == 403


def test_the_admin_shows_the_confirmation_date_but_does_not_edit_it(world: World) -> None:
    root = User.objects.create_superuser("root", password="x" * 16)
    client = signed_in(root)
    assert client.get("/admin/permissions/user/").status_code == 200
    page = client.get(f"/admin/permissions/user/{world.member.pk}/change/")
    assert page.status_code == 200
    assert "certified_at" in page.context["adminform"].readonly_fields
