"""GET /api/v1/me: who the caller is, their institution and the roles of SPEC §1 they hold."""

from __future__ import annotations

from permissions.models import Ban
from tests import factories
from tests.conftest import World, api_client


def roles_of(user: object) -> list[dict[str, object]]:
    response = api_client(user).get("/api/v1/me")  # type: ignore[arg-type]
    assert response.status_code == 200
    roles: list[dict[str, object]] = response.json()["roles"]
    return roles


def test_me_lists_each_role_with_its_channel(world: World) -> None:
    assert roles_of(world.owner) == [
        {"role": "moderator", "channel": "ops"},
        {"role": "participant", "channel": "ops"},
    ]
    assert roles_of(world.member) == [{"role": "participant", "channel": "ops"}]
    assert roles_of(world.observer) == [{"role": "observer", "channel": "ops"}]
    assert roles_of(world.outsider) == []


def test_platform_wide_roles_come_first_and_staff_gets_no_channel_role(world: World) -> None:
    world.member.is_focal_point = True
    world.member.save(update_fields=["is_focal_point"])
    assert roles_of(world.member) == [
        {"role": "focal_point", "channel": None},
        {"role": "participant", "channel": "ops"},
    ]
    admin = factories.make_user("root", institution=None, is_staff=True)
    assert roles_of(admin) == [{"role": "platform_admin", "channel": None}]


def test_a_banned_user_holds_no_role_in_that_channel(world: World) -> None:
    Ban.objects.create(channel=world.channel, user=world.member, banned_by=world.owner)
    assert roles_of(world.member) == []
    me = api_client(world.member).get("/api/v1/me").json()
    assert me["institution"]["slug"] == "guardia-civil" and me["username"] == "mateo"
