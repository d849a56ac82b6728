"""Platform admins switching users and institutions off in the Django admin: the change
goes through the services, so access ends everywhere at once, as from anywhere else."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from audit.models import AuditEvent
from exchange.asgi import application
from permissions.models import Institution, User
from permissions.people.services import user_upsert
from tests import factories
from tests.conftest import World, api_client
from tests.signing_in import signed_in

sync = database_sync_to_async


def admin_client() -> Client:
    admin = user_upsert(username="root", institution=None, is_staff=True)
    admin.is_superuser = True
    admin.save()
    return signed_in(admin)


def _user_form(user: User, *, active: bool) -> dict[str, object]:
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on" if active else "",
        "is_staff": "",
        "is_superuser": "",
        "institution": user.institution_id or "",
        "display_name": user.display_name,
        "preferred_language": user.preferred_language,
        "is_focal_point": "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }


def _institution_form(institution: Institution, *, active: bool) -> dict[str, object]:
    return {
        "slug": institution.slug,
        "name": institution.name,
        "country": str(institution.country),
        "kind": institution.kind,
        "active": "on" if active else "",
    }


async def _open_subscribed(user: User) -> WebsocketCommunicator:
    token = await sync(factories.token_for)(user)
    socket = WebsocketCommunicator(
        application, "/ws/v1/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    assert (await socket.connect(timeout=5))[0]
    await socket.send_json_to({"type": "subscribe", "channel": "ops"})
    assert (await socket.receive_json_from(timeout=5))["type"] == "subscribed"
    return socket


@pytest.mark.django_db(transaction=True)
async def test_deactivating_a_user_in_the_admin_closes_their_open_socket(world: World) -> None:
    socket = await _open_subscribed(world.member)
    client = await sync(admin_client)()
    url = f"/admin/permissions/user/{world.member.pk}/change/"
    response = await sync(client.post)(url, await sync(_user_form)(world.member, active=False))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert await socket.receive_json_from(timeout=1) == {
        "type": "channel.revoked",
        "channel": "ops",
    }
    assert (await socket.receive_output(timeout=1))["type"] == "websocket.close"
    assert not (await sync(User.objects.get)(pk=world.member.pk)).is_active
    assert await sync(
        AuditEvent.objects.filter(
            action="user.deactivated", target="user:mateo", actor="root"
        ).exists
    )()


@pytest.mark.django_db(transaction=True)
async def test_deactivating_an_institution_in_the_admin_ends_its_users_access(
    world: World,
) -> None:
    socket = await _open_subscribed(world.observer)
    client = await sync(admin_client)()
    url = f"/admin/permissions/institution/{world.observer_institution.pk}/change/"
    form = await sync(_institution_form)(world.observer_institution, active=False)
    response = await sync(client.post)(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert await socket.receive_json_from(timeout=1) == {
        "type": "channel.revoked",
        "channel": "ops",
    }
    await socket.disconnect()
    oscar = await sync(api_client)(world.observer)
    assert (await sync(oscar.get)("/api/v1/channels/ops/messages")).status_code == 403
    assert await sync(
        AuditEvent.objects.filter(action="institution.deactivated", actor="root").exists
    )()
    # Reactivating gives the access back.
    form["active"] = "on"
    assert (await sync(client.post)(url, form)).status_code == 302
    assert (await sync(oscar.get)("/api/v1/channels/ops/messages")).status_code == 200


@pytest.mark.django_db
def test_an_institution_added_in_the_admin_gets_its_group_and_is_audited() -> None:
    client = admin_client()
    response = client.post(
        "/admin/permissions/institution/add/",
        {"slug": "fiscalia-pe", "name": "Fiscalía de la Nación", "country": "PE",
         "kind": "prosecution", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    institution = Institution.objects.get(slug="fiscalia-pe")
    assert institution.group.name == "institution:fiscalia-pe"
    assert AuditEvent.objects.filter(action="institution.created", actor="root").exists()
