"""Focal points over the HTTP API (docs/moderation.md "Focal points"): they invite,
deactivate, reactivate and confirm the users of their own institution and nobody else's;
platform admins may do it for any institution.

The standing world's guardia-civil (olivia, mateo) gets a focal point, fiona; carabineros
(ursula) gets one too, felipe, who must be refused everything at guardia-civil.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from audit.chain import verify
from audit.models import AuditEvent
from permissions.models import User
from tests import factories
from tests.conftest import World, api_client

pytestmark = pytest.mark.django_db

BASE = "/api/v1/institutions"
NEW_PASSWORD = "a long and new passphrase 42"


@dataclass
class Staff:
    world: World
    fiona: User  # focal point of guardia-civil
    felipe: User  # focal point of carabineros
    ada: User  # platform admin, of no institution


@pytest.fixture
def staff(world: World) -> Staff:
    return Staff(
        world=world,
        fiona=factories.make_user(
            "fiona", institution=world.participant_institution, is_focal_point=True
        ),
        felipe=factories.make_user(
            "felipe", institution=world.outsider_institution, is_focal_point=True
        ),
        ada=User.objects.create_user("ada", is_staff=True, password="x" * 16),
    )


def post(user: User | None, path: str, payload: dict[str, Any] | None = None) -> Any:
    return api_client(user).post(path, payload or {}, content_type="application/json")


def invite(actor: User, username: str = "nina", **fields: Any) -> Any:
    payload = {"username": username, "email": f"{username}@guardia.example", **fields}
    return post(actor, f"{BASE}/guardia-civil/users", payload)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


FOCAL_POINT_ACTIONS = [
    "user.invited", "user.deactivated", "user.reactivated", "user.recertified",
    "user.certification_lapsed",
]  # fmt: skip


def focal_point_events() -> list[AuditEvent]:
    """The events of focal points' actions (the fixtures' own setup is audited too)."""
    return list(AuditEvent.objects.filter(action__in=FOCAL_POINT_ACTIONS).order_by("seq"))


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


# --- listing --------------------------------------------------------------------------


def test_a_focal_point_lists_the_users_of_their_institution_with_due_dates(
    staff: Staff,
) -> None:
    response = api_client(staff.fiona).get(f"{BASE}/guardia-civil/users")
    assert response.status_code == 200, response.content
    rows = response.json()
    assert [row["username"] for row in rows] == ["fiona", "mateo", "olivia"]
    fiona = rows[0]
    assert set(fiona) == {
        "username", "display_name", "email", "is_active", "is_focal_point",
        "certified_at", "due_at", "lapses_at",
    }  # fmt: skip
    assert fiona["is_focal_point"] and fiona["is_active"]
    certified = datetime.fromisoformat(fiona["certified_at"])
    assert abs(certified - staff.fiona.certified_at) < timedelta(milliseconds=1)
    days = settings.RECERTIFY_DAYS
    assert datetime.fromisoformat(fiona["due_at"]) == certified + timedelta(days=days)
    grace = timedelta(days=days + settings.RECERTIFY_GRACE_DAYS)
    assert datetime.fromisoformat(fiona["lapses_at"]) == certified + grace


# --- invitations ----------------------------------------------------------------------


def test_an_invited_user_sets_a_password_through_the_link_and_signs_in(
    staff: Staff, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(staff.fiona, display_name="Nina Ruiz", preferred_language="es")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "nina"
    url = body["invite_url"]
    assert re.fullmatch(r"http://testserver/invite/[\w-]+/[\w-]+/", url), url
    nina = User.objects.get(username="nina")
    assert nina.institution == staff.world.participant_institution
    assert not nina.has_usable_password() and nina.is_active and not nina.is_staff
    assert (nina.display_name, nina.email, nina.preferred_language) == (
        "Nina Ruiz",
        "nina@guardia.example",
        "es",
    )
    # The same link, by email.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["nina@guardia.example"]
    assert url in mail.outbox[0].body

    browser = Client()
    form_page = browser.get(url, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    done = browser.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302 and done["Location"] == "/invite/done/"
    signed_in = Client().post("/login/", {"username": "nina", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    # The link worked once.
    assert not Client().get(url, follow=True).context["validlink"]
    [event] = events("user.invited")
    assert (event.actor, event.target) == ("fiona", "user:nina")
    assert event.data == {"institution": "guardia-civil", "again": False}
    assert verify().ok


def test_a_weak_password_is_refused_on_the_invitation_page(staff: Staff) -> None:
    url = invite(staff.fiona).json()["invite_url"]
    browser = Client()
    form_page = browser.get(url, follow=True)
    refused = browser.post(
        form_page.redirect_chain[-1][0], {"new_password1": "short", "new_password2": "short"}
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors["new_password2"]
    assert not fresh(User.objects.get(username="nina")).has_usable_password()


def test_inviting_an_inactive_user_again_issues_a_new_link_and_kills_the_old(
    staff: Staff,
) -> None:
    first = invite(staff.fiona).json()["invite_url"]
    assert post(staff.fiona, f"{BASE}/guardia-civil/users/nina/deactivate").status_code == 200
    again = invite(staff.fiona)
    assert again.status_code == 201, again.content
    second = again.json()["invite_url"]
    assert second != first
    assert not Client().get(first, follow=True).context["validlink"]
    assert Client().get(second, follow=True).context["validlink"]
    assert User.objects.get(username="nina").is_active
    assert [e.data["again"] for e in events("user.invited")] == [False, True]


def test_inviting_someone_who_never_used_the_link_issues_a_new_one(staff: Staff) -> None:
    assert invite(staff.fiona).status_code == 201
    assert invite(staff.fiona).status_code == 201


def test_a_username_of_another_institution_or_an_active_user_is_refused(staff: Staff) -> None:
    for taken in ["ursula", "ada", "mateo"]:
        response = invite(staff.fiona, taken)
        assert response.status_code == 409, (taken, response.content)
        assert response.json()["error"]["field"] == "username"
    assert fresh(staff.world.outsider).institution == staff.world.outsider_institution
    assert fresh(staff.world.member).has_usable_password()
    assert events("user.invited") == []
    assert mail.outbox == []


@pytest.mark.parametrize(
    "extra",
    [{"is_staff": True}, {"institution": "carabineros"}, {"is_focal_point": True}],
    ids=["is_staff", "institution", "is_focal_point"],
)
def test_mass_assignment_in_an_invitation_is_refused(staff: Staff, extra: dict[str, Any]) -> None:
    response = invite(staff.fiona, **extra)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert not User.objects.filter(username="nina").exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not an address"}, "email"),
        ({"preferred_language": "xx"}, "preferred_language"),
        ({"username": "has spaces"}, "username"),
        ({"email": ""}, "email"),
    ],
)
def test_bad_invitations_name_the_field_and_change_nothing(
    staff: Staff, fields: dict[str, str], field: str
) -> None:
    response = invite(staff.fiona, **fields)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert User.objects.count() == 7
    assert events("user.invited") == []


# --- deactivation and reactivation ------------------------------------------------------


def test_a_deactivated_user_loses_access_and_a_reactivated_one_gets_it_back(
    staff: Staff,
) -> None:
    mateo = api_client(staff.world.member)
    assert mateo.get("/api/v1/channels/ops/messages").status_code == 200
    response = post(staff.fiona, f"{BASE}/guardia-civil/users/mateo/deactivate")
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert mateo.get("/api/v1/channels/ops/messages").status_code == 401

    old = fresh(staff.world.member).certified_at
    response = post(staff.fiona, f"{BASE}/guardia-civil/users/mateo/reactivate")
    assert response.status_code == 200
    assert response.json()["is_active"] is True
    member = fresh(staff.world.member)
    assert member.is_active and member.certified_at > old
    assert api_client(member).get("/api/v1/channels/ops/messages").status_code == 200
    assert [(e.action, e.actor, e.target) for e in focal_point_events()] == [
        ("user.deactivated", "fiona", "user:mateo"),
        ("user.reactivated", "fiona", "user:mateo"),
    ]
    assert verify().ok


def test_a_focal_point_cannot_deactivate_themselves(staff: Staff) -> None:
    response = post(staff.fiona, f"{BASE}/guardia-civil/users/fiona/deactivate")
    assert response.status_code == 400
    assert fresh(staff.fiona).is_active


def test_users_of_another_institution_are_not_found_under_ones_own(staff: Staff) -> None:
    for path in ["users/ursula/deactivate", "users/nobody/reactivate"]:
        response = post(staff.fiona, f"{BASE}/guardia-civil/{path}")
        assert response.status_code == 404, path
    assert fresh(staff.world.outsider).is_active


# --- recertification ------------------------------------------------------------------


def test_a_focal_point_confirms_users_of_their_institution(staff: Staff) -> None:
    long_ago = timezone.now() - timedelta(days=200)
    User.objects.filter(username__in=["mateo", "olivia"]).update(certified_at=long_ago)
    response = post(
        staff.fiona, f"{BASE}/guardia-civil/recertify", {"usernames": ["olivia", "mateo"]}
    )
    assert response.status_code == 200, response.content
    assert response.json()["usernames"] == ["mateo", "olivia"]
    for user in [staff.world.member, staff.world.owner]:
        assert fresh(user).certified_at > long_ago + timedelta(days=199)
    recorded = events("user.recertified")
    assert [(e.actor, e.target) for e in recorded] == [
        ("fiona", "user:mateo"),
        ("fiona", "user:olivia"),
    ]
    assert verify().ok


def test_confirming_unknown_users_or_another_institutions_changes_nothing(staff: Staff) -> None:
    before = fresh(staff.world.member).certified_at
    response = post(
        staff.fiona,
        f"{BASE}/guardia-civil/recertify",
        {"usernames": ["mateo", "nobody", "ursula"]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["usernames"] == ["nobody", "ursula"]
    assert "nobody" in error["message"] and "ursula" in error["message"]
    assert fresh(staff.world.member).certified_at == before
    assert events("user.recertified") == []
    recertify = f"{BASE}/guardia-civil/recertify"
    assert post(staff.fiona, recertify, {"usernames": []}).status_code == 400
    unknown_field = {"usernames": ["mateo"], "certified_at": "2030-01-01T00:00:00Z"}
    assert post(staff.fiona, recertify, unknown_field).status_code == 400


# --- who may --------------------------------------------------------------------------

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/guardia-civil/users", None),
    ("post", "/guardia-civil/users", {"username": "nina", "email": "nina@guardia.example"}),
    ("post", "/guardia-civil/users/mateo/deactivate", None),
    ("post", "/guardia-civil/users/mateo/reactivate", None),
    ("post", "/guardia-civil/recertify", {"usernames": ["mateo"]}),
]


def call(user: User | None, method: str, path: str, payload: dict[str, Any] | None) -> Any:
    if method == "get":
        return api_client(user).get(BASE + path)
    return post(user, BASE + path, payload)


@pytest.mark.parametrize(("method", "path", "payload"), ROUTES)
@pytest.mark.parametrize("who", ["felipe", "mateo", "olivia"])
def test_another_institutions_focal_point_and_plain_users_are_refused(
    staff: Staff, who: str, method: str, path: str, payload: dict[str, Any] | None
) -> None:
    """felipe is a focal point, of carabineros; mateo a plain user and olivia a moderator
    of guardia-civil: none of them administers guardia-civil."""
    before = fresh(staff.world.member).certified_at
    response = call(User.objects.get(username=who), method, path, payload)
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "forbidden"
    member = fresh(staff.world.member)
    assert member.is_active and member.certified_at == before
    assert not User.objects.filter(username="nina").exists()
    assert focal_point_events() == []


@pytest.mark.parametrize(("method", "path", "payload"), ROUTES)
def test_anonymous_callers_are_told_to_sign_in(
    staff: Staff, method: str, path: str, payload: dict[str, Any] | None
) -> None:
    assert call(None, method, path, payload).status_code == 401


def test_a_platform_admin_administers_any_institution(staff: Staff) -> None:
    assert api_client(staff.ada).get(f"{BASE}/carabineros/users").status_code == 200
    response = post(staff.ada, f"{BASE}/carabineros/users/ursula/deactivate")
    assert response.status_code == 200
    assert not fresh(staff.world.outsider).is_active
    response = post(
        staff.ada,
        f"{BASE}/carabineros/users",
        {"username": "carla", "email": "carla@carabineros.example"},
    )
    assert response.status_code == 201
    assert User.objects.get(username="carla").institution == staff.world.outsider_institution
    assert [e.actor for e in focal_point_events()] == ["ada", "ada"]


def test_an_unknown_institution_is_not_found(staff: Staff) -> None:
    response = api_client(staff.ada).get(f"{BASE}/atlantis/users")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_focal_point_whose_own_certification_lapsed_is_refused(staff: Staff) -> None:
    lapse = settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS + 1
    User.objects.filter(pk=staff.fiona.pk).update(
        certified_at=timezone.now() - timedelta(days=lapse)
    )
    assert api_client(staff.fiona).get(f"{BASE}/guardia-civil/users").status_code == 403


def test_the_routes_are_in_the_openapi_document(staff: Staff) -> None:
    paths = api_client(staff.ada).get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/institutions/{slug}/users",
        "/api/v1/institutions/{slug}/users/{username}/deactivate",
        "/api/v1/institutions/{slug}/users/{username}/reactivate",
        "/api/v1/institutions/{slug}/recertify",
    } <= set(paths)


def test_invitation_links_start_with_the_public_url_when_it_is_set(
    staff: Staff, settings: Any
) -> None:
    settings.PUBLIC_URL = "https://exchange.example.org"
    url = invite(staff.fiona).json()["invite_url"]
    assert url.startswith("https://exchange.example.org/invite/")


def test_a_focal_point_cannot_take_over_a_deactivated_moderators_account(staff: Staff) -> None:
    """The link comes back to whoever invites: inviting a deactivated moderator (olivia)
    again would hand the focal point her moderator rights. A platform admin may."""
    assert post(staff.fiona, f"{BASE}/guardia-civil/users/olivia/deactivate").status_code == 200
    refused = invite(staff.fiona, "olivia")
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "username"
    olivia = fresh(staff.world.owner)
    assert not olivia.is_active and olivia.has_usable_password()
    assert invite(staff.ada, "olivia").status_code == 201
