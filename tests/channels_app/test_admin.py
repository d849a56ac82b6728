"""Platform admins in the Django admin: channels and their moderators, never content."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from channels_app.models import Channel
from permissions.access import channel_access
from permissions.models import User
from permissions.people.services import user_upsert
from tests import factories
from tests.conftest import World, api_client
from tests.e2ee_clients import Member
from tests.signing_in import signed_in

pytestmark = pytest.mark.django_db


def admin_client() -> tuple[Client, User]:
    admin = user_upsert(username="root", institution=None, is_staff=True)
    admin.is_superuser = True
    admin.save()
    return signed_in(admin), admin


def _form(channel: Channel, moderators: list[User]) -> dict[str, object]:
    return {
        "slug": channel.slug,
        "title": channel.title,
        "theme": channel.theme,
        "description": channel.description,
        "listed": "on" if channel.listed else "",
        "archived": "",
        "history_visibility": channel.history_visibility,
        "max_handling_code": channel.max_handling_code,
        "moderators": [m.pk for m in moderators],
    }


def test_a_platform_admin_appoints_and_dismisses_moderators_in_the_admin(world: World) -> None:
    client, _ = admin_client()
    url = f"/admin/channels_app/channel/{world.channel.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, _form(world.channel, [world.owner, world.observer]))
    assert response.status_code == 302, response.content
    assert channel_access(world.observer, world.channel).can_moderate
    appointed = AuditEvent.objects.get(action="moderator.appointed", target="user:oscar")
    assert appointed.actor == "root"

    response = client.post(url, _form(world.channel, [world.observer]))
    assert response.status_code == 302
    assert not channel_access(world.owner, world.channel).can_moderate
    # Olivia's institution is still admitted: she keeps reading, as a participant.
    assert channel_access(world.owner, world.channel).can_post
    assert AuditEvent.objects.filter(action="moderator.dismissed", target="user:olivia").exists()


def test_dismissing_a_moderator_who_cannot_otherwise_read_rotates_the_key(world: World) -> None:
    factories.make_moderator(world.channel, world.outsider)
    ursula, olivia = (Member(u.username, api_client(u)) for u in (world.outsider, world.owner))
    ursula.register()
    olivia.register()
    assert olivia.start_epoch("ops", 1).status_code == 201
    client, _ = admin_client()
    url = f"/admin/channels_app/channel/{world.channel.pk}/change/"
    client.post(url, _form(world.channel, [world.owner]))
    assert not channel_access(world.outsider, world.channel).can_read
    assert world.channel.epochs.get(number=1).stale
    stale = AuditEvent.objects.get(action="epoch.stale")
    assert stale.data == {"epoch": 1, "reason": "moderator dismissed"}
    assert channel_access(world.owner, world.channel).can_moderate


def test_the_admin_shows_no_channel_content(world: World) -> None:
    factories.post(world.member, world.channel, "the raid is on Tuesday")
    client, _ = admin_client()
    assert client.get("/admin/channels_app/message/").status_code == 404
    html = client.get(f"/admin/channels_app/channel/{world.channel.pk}/change/").content.decode()
    assert "Tuesday" not in html
    assert "Tuesday" not in client.get("/admin/").content.decode()
