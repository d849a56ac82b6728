"""Identity keys, backups, epochs and key shares over the HTTP API (SPEC §3, §5)."""

from __future__ import annotations

import base64

import pytest

from channels_app.e2ee import X25519Identity, decrypt_bytes, encrypt_bytes
from channels_app.models import Epoch, KeyShare
from permissions.membership.services import admission_remove
from tests import factories
from tests.conftest import World, api_client
from tests.e2ee_clients import Member, b64, backup_of

pytestmark = pytest.mark.django_db


def member(world: World, who: str) -> Member:
    user = getattr(world, who)
    return Member(username=user.username, client=api_client(user))


@pytest.fixture
def keyed(world: World) -> dict[str, Member]:
    members = {who: member(world, who) for who in ("owner", "member", "observer", "outsider")}
    for m in members.values():
        m.register()
    return members


def test_an_identity_key_is_registered_and_read_back(world: World) -> None:
    alice = member(world, "member")
    alice.register()
    response = alice.client.get("/api/v1/keys/me")
    assert response.json()["public_key"] == alice.identity.recipient.to_string()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "age1",
        "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
        "ssh-ed25519 AAAA",
        "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
    ],
)
def test_a_malformed_recipient_is_a_400(world: World, bad: str) -> None:
    response = api_client(world.member).put(
        "/api/v1/keys/me", {"public_key": bad}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "public_key"


def test_a_new_key_replaces_the_old_one_and_the_members_list_shows_it(world: World) -> None:
    alice = member(world, "member")
    alice.register()
    alice.identity = X25519Identity.generate()
    alice.register()
    members = api_client(world.observer).get(f"/api/v1/channels/{world.channel.slug}/members")
    keys = {m["username"]: m["public_key"] for m in members.json()}
    assert keys["mateo"] == alice.identity.recipient.to_string()
    assert keys["oscar"] is None


def test_the_backup_round_trips_and_must_be_an_scrypt_age_file(world: World) -> None:
    client = api_client(world.member)
    identity = X25519Identity.generate()
    backup = backup_of(identity, "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567")
    response = client.put(
        "/api/v1/keys/me/backup", {"backup": b64(backup)}, content_type="application/json"
    )
    assert response.status_code == 200
    assert base64.b64decode(client.get("/api/v1/keys/me/backup").json()["backup"]) == backup
    x25519_file = encrypt_bytes(b"x", [identity.recipient])
    for bad in (b64(x25519_file), b64(b"not age"), "!!notbase64", "YQ"):
        response = client.put(
            "/api/v1/keys/me/backup", {"backup": bad}, content_type="application/json"
        )
        assert response.status_code == 400, bad
    assert api_client(world.observer).get("/api/v1/keys/me/backup").status_code == 404


def test_a_member_starts_epoch_1_with_shares_for_every_keyed_member(
    world: World, keyed: dict[str, Member]
) -> None:
    response = keyed["observer"].start_epoch(world.channel.slug, 1)
    assert response.status_code == 201, response.content
    assert response.json()["number"] == 1
    epoch = keyed["member"].fetch_share(world.channel.slug, 1)
    assert epoch.recipient.to_string() == response.json()["public_key"]
    assert keyed["owner"].fetch_share(world.channel.slug, 1).to_string() == epoch.to_string()
    detail = api_client(world.member).get(f"/api/v1/channels/{world.channel.slug}").json()
    assert detail["epoch"] == 1 and detail["epoch_stale"] is False


def test_shares_must_cover_exactly_the_keyed_members(
    world: World, keyed: dict[str, Member]
) -> None:
    starter = keyed["member"]
    epoch = X25519Identity.generate()
    starter.epochs[1] = epoch
    ciphertext = starter.share_for(starter.identity.recipient.to_string(), world.channel.slug, 1)
    response = starter.client.post(
        f"/api/v1/channels/{world.channel.slug}/epochs",
        {
            "number": 1,
            "public_key": epoch.recipient.to_string(),
            "shares": [
                {"username": "mateo", "ciphertext": ciphertext},
                {"username": "ursula", "ciphertext": ciphertext},
            ],
        },
        content_type="application/json",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["missing"] == ["oscar", "olivia"] or sorted(error["missing"]) == [
        "olivia",
        "oscar",
    ]
    assert error["unexpected"] == ["ursula"]
    assert not Epoch.objects.exists()


def test_the_next_number_only(world: World, keyed: dict[str, Member]) -> None:
    assert keyed["member"].start_epoch(world.channel.slug, 2, back_link=False).status_code == 409
    assert keyed["member"].start_epoch(world.channel.slug, 1).status_code == 201
    again = keyed["member"].start_epoch(world.channel.slug, 1)
    assert again.status_code == 409
    assert again.json()["error"]["expected"] == 2


def test_only_moderators_rotate_a_current_epoch(world: World, keyed: dict[str, Member]) -> None:
    keyed["member"].start_epoch(world.channel.slug, 1)
    keyed["owner"].fetch_share(world.channel.slug, 1)
    assert keyed["member"].start_epoch(world.channel.slug, 2).status_code == 403
    assert keyed["owner"].start_epoch(world.channel.slug, 2, back_link=False).status_code == 400
    assert keyed["owner"].start_epoch(world.channel.slug, 2).status_code == 201


def test_after_a_removal_the_epoch_is_stale_and_a_member_may_start_the_next(
    world: World, keyed: dict[str, Member]
) -> None:
    keyed["member"].start_epoch(world.channel.slug, 1)
    admission_remove(
        actor=world.owner, channel=world.channel, institution=world.observer_institution
    )
    epochs = api_client(world.member).get(f"/api/v1/channels/{world.channel.slug}/epochs").json()
    assert epochs[0]["stale"] is True
    response = keyed["member"].start_epoch(world.channel.slug, 2)
    assert response.status_code == 201, response.content
    assert not KeyShare.objects.filter(epoch__number=2, user=world.observer).exists()
    # The back-link lets epoch 2's holders walk back to epoch 1.
    keyed["owner"].fetch_share(world.channel.slug, 2)
    back_link = base64.b64decode(
        api_client(world.owner)
        .get(f"/api/v1/channels/{world.channel.slug}/epochs")
        .json()[1]["back_link"]
    )
    plaintext = decrypt_bytes(back_link, [keyed["owner"].epochs[2]]).decode()
    assert keyed["member"].epochs[1].to_string() in plaintext


def test_a_newcomer_waits_and_a_member_delivers_the_share(
    world: World, keyed: dict[str, Member]
) -> None:
    keyed["member"].start_epoch(world.channel.slug, 1)
    newcomer = Member(
        "nina", api_client(factories.make_user("nina", institution=world.participant_institution))
    )
    client = api_client(world.member)
    assert client.get(f"/api/v1/channels/{world.channel.slug}/shares/pending").json() == []
    newcomer.register()
    assert (
        newcomer.client.get(f"/api/v1/channels/{world.channel.slug}/epochs/1/share").status_code
        == 404
    )
    pending = client.get(f"/api/v1/channels/{world.channel.slug}/shares/pending").json()
    assert pending == [
        {"epoch": 1, "username": "nina", "public_key": newcomer.identity.recipient.to_string()}
    ]
    ciphertext = keyed["member"].share_for(pending[0]["public_key"], world.channel.slug, 1)
    response = client.post(
        f"/api/v1/channels/{world.channel.slug}/shares",
        {"shares": [{"epoch": 1, "username": "nina", "ciphertext": ciphertext}]},
        content_type="application/json",
    )
    assert response.status_code == 201 and response.json() == {"created": 1}
    assert (
        newcomer.fetch_share(world.channel.slug, 1).to_string()
        == keyed["member"].epochs[1].to_string()
    )
    assert client.get(f"/api/v1/channels/{world.channel.slug}/shares/pending").json() == []


def test_nobody_delivers_shares_to_someone_not_waiting(
    world: World, keyed: dict[str, Member]
) -> None:
    keyed["member"].start_epoch(world.channel.slug, 1)
    ciphertext = keyed["member"].share_for(
        keyed["outsider"].identity.recipient.to_string(), world.channel.slug, 1
    )
    response = api_client(world.member).post(
        f"/api/v1/channels/{world.channel.slug}/shares",
        {"shares": [{"epoch": 1, "username": "ursula", "ciphertext": ciphertext}]},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["unexpected"] == ["ursula"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/epochs"),
        ("get", "/epochs/1/share"),
        ("get", "/shares/pending"),
        ("post", "/epochs"),
        ("post", "/shares"),
    ],
)
def test_an_outsider_gets_nothing(
    world: World, keyed: dict[str, Member], method: str, path: str
) -> None:
    keyed["member"].start_epoch(world.channel.slug, 1)
    client = api_client(world.outsider)
    url = f"/api/v1/channels/{world.channel.slug}{path}"
    response = (
        client.get(url)
        if method == "get"
        else client.post(url, {}, content_type="application/json")
    )
    assert response.status_code in (400, 403)
    if method == "get":
        assert response.status_code == 403
