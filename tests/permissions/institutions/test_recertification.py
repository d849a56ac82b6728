"""Recertification: a user nobody confirmed for RECERTIFY_DAYS plus the grace period is
refused at once by both guard paths (the HTTP API and every socket frame), and the daily
`recertification_sweep` deactivates them, closing their open sockets."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.chain import verify
from audit.models import AuditEvent
from channels_app.models import Epoch
from permissions.models import User
from tests.channels_app.socket.test_consumer import (
    empty_layer,
    open_socket,
    receive,
    subscribe,
    sync,
)
from tests.conftest import World, api_client
from tests.exchange.test_settings import settings_of

__all__ = ["empty_layer"]  # the consumer tests' fixture: every test starts with an empty layer

pytestmark = pytest.mark.django_db


def age(user: User, days: int) -> None:
    """Make `user` last confirmed `days` ago."""
    User.objects.filter(pk=user.pk).update(certified_at=timezone.now() - timedelta(days=days))


def lapse(user: User) -> None:
    age(user, settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS + 1)


def sweep() -> str:
    out = StringIO()
    call_command("recertification_sweep", stdout=out)
    return out.getvalue()


def test_a_due_user_within_the_grace_period_keeps_access(world: World) -> None:
    age(world.member, settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS - 1)
    assert api_client(world.member).get("/api/v1/channels/ops/messages").status_code == 200
    assert "0 user(s) deactivated" in sweep()


def test_a_lapsed_user_is_refused_by_the_api_like_an_inactive_one(world: World) -> None:
    """The guard answers a lapsed user as it answers one deactivated behind its back:
    401, with a message that says why; the catalogue no longer shows them as members."""
    client = api_client(world.member)
    lapse(world.member)
    response = client.get("/api/v1/channels/ops/messages")
    assert response.status_code == 401
    assert "focal point" in response.json()["error"]["message"]
    sent = client.post(
        "/api/v1/channels/ops/messages",
        {"body": "still here?", "client_id": "6f1c8a52-0f3e-4d0c-9a36-2f1f3c1b2a10"},
        content_type="application/json",
    )
    assert sent.status_code == 401
    [ops] = [c for c in client.get("/api/v1/channels").json() if c["slug"] == "ops"]
    assert ops["is_member"] is False


def test_the_sweep_deactivates_lapsed_users_only_and_is_idempotent(world: World) -> None:
    lapse(world.member)
    age(world.observer, settings.RECERTIFY_DAYS + 1)  # due, not lapsed
    assert sweep().splitlines() == [
        "deactivated mateo (certification lapsed)",
        "1 user(s) deactivated",
    ]
    assert not User.objects.get(pk=world.member.pk).is_active
    assert User.objects.get(pk=world.observer.pk).is_active
    assert User.objects.get(pk=world.owner.pk).is_active
    assert "0 user(s) deactivated" in sweep()
    [event] = AuditEvent.objects.filter(action="user.certification_lapsed")
    assert (event.actor, event.actor_id, event.target) == ("", None, "user:mateo")
    assert event.data["institution"] == "guardia-civil"
    assert verify().ok


def test_the_sweep_retires_the_channel_key_a_lapsed_user_held(world: World) -> None:
    """The guard refuses a lapsed user already; deactivating them must still know which
    channels they held, so that nothing more is encrypted to a key they have."""
    epoch = Epoch.objects.create(channel=world.channel, number=1, public_key="age1" + "q" * 58)
    lapse(world.member)
    sweep()
    epoch.refresh_from_db()
    assert epoch.stale


def test_platform_admins_and_moderators_lapse_like_everyone(world: World) -> None:
    admin = User.objects.create_user("ada", is_staff=True, password="x" * 16)
    lapse(admin)
    lapse(world.owner)
    sweep()
    assert not User.objects.get(pk=admin.pk).is_active
    assert not User.objects.get(pk=world.owner.pk).is_active


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame",
    [
        {"type": "subscribe", "channel": "ops"},
        {
            "type": "message.send",
            "channel": "ops",
            "client_id": "6f1c8a52-0f3e-4d0c-9a36-2f1f3c1b2a10",
            "body": "hi",
        },
    ],
    ids=["subscribe", "message.send"],
)
async def test_a_frame_from_a_lapsed_user_closes_the_socket(world: World, frame: dict) -> None:
    async with open_socket(world.member) as socket:
        await sync(lapse)(world.member)
        await socket.send_json_to(frame)
        closing = await socket.receive_output(timeout=1)
        assert (closing["type"], closing.get("code")) == ("websocket.close", 4401)


@pytest.mark.django_db(transaction=True)
async def test_the_sweep_revokes_the_channel_and_closes_a_lapsed_users_socket(
    world: World,
) -> None:
    async with open_socket(world.member) as socket:
        await subscribe(socket)
        await sync(lapse)(world.member)
        await sync(sweep)()
        assert await receive(socket, timeout=1) == {"type": "channel.revoked", "channel": "ops"}
        closing = await socket.receive_output(timeout=1)
        assert (closing["type"], closing["code"]) == ("websocket.close", 4401)
    lapsed = await sync(list)(AuditEvent.objects.filter(action="user.certification_lapsed"))
    assert [e.target for e in lapsed] == ["user:mateo"]
    assert (await sync(verify)()).ok


def test_a_shorter_period_applies_to_everyone_at_once(world: World, settings: Any) -> None:
    age(world.member, 45)
    client = api_client(world.member)
    assert client.get("/api/v1/channels/ops/messages").status_code == 200
    settings.RECERTIFY_DAYS, settings.RECERTIFY_GRACE_DAYS = 30, 14
    assert client.get("/api/v1/channels/ops/messages").status_code == 401


def test_the_periods_and_the_mail_relay_come_from_the_environment() -> None:
    shown = "settings.RECERTIFY_DAYS, settings.RECERTIFY_GRACE_DAYS, settings.EMAIL_BACKEND"
    embedded = settings_of({"EXCHANGE_DEBUG": "1"}, shown)
    assert embedded.stdout.strip() == "180 14 django.core.mail.backends.console.EmailBackend"
    production = settings_of(
        {
            "EXCHANGE_DEBUG": "1",
            "EXCHANGE_RECERTIFY_DAYS": "90",
            "EXCHANGE_RECERTIFY_GRACE_DAYS": "0",
            "EXCHANGE_EMAIL_HOST": "smtp.example.org",
        },
        shown,
    )
    assert production.stdout.strip() == "90 0 django.core.mail.backends.smtp.EmailBackend"
    refused = settings_of({"EXCHANGE_DEBUG": "1", "EXCHANGE_RECERTIFY_DAYS": "0"}, shown)
    assert refused.returncode != 0
    assert "EXCHANGE_RECERTIFY_DAYS must be >= 1" in refused.stderr


def test_the_command_line_confirms_platform_admins_and_can_reactivate(world: World) -> None:
    """Platform admins belong to no institution, so no focal point confirms them."""
    admin = User.objects.create_user("ada", is_staff=True, password="x" * 16)
    lapse(admin)
    lapse(world.member)
    sweep()
    with pytest.raises(CommandError, match="Inactive users \\(add --reactivate\\): ada, mateo"):
        call_command("recertify", "ada", "mateo", stdout=StringIO())
    with pytest.raises(CommandError, match="Unknown users: nobody"):
        call_command("recertify", "ada", "nobody", stdout=StringIO())
    assert not User.objects.get(pk=admin.pk).is_active
    out = StringIO()
    call_command("recertify", "ada", "mateo", "--reactivate", stdout=out)
    assert out.getvalue().splitlines() == ["confirmed ada", "confirmed mateo"]
    assert api_client(world.member).get("/api/v1/channels/ops/messages").status_code == 200
    assert User.objects.get(pk=admin.pk).is_active
    assert "0 user(s) deactivated" in sweep()
    recorded = AuditEvent.objects.filter(action__in=["user.reactivated", "user.recertified"])
    assert [(e.action, e.target, e.actor_id) for e in recorded] == [
        ("user.reactivated", "user:ada", None),
        ("user.recertified", "user:ada", None),
        ("user.reactivated", "user:mateo", None),
        ("user.recertified", "user:mateo", None),
    ]
    assert verify().ok
