"""The message routes of the HTTP API, for an owner, a member, an observer, an outsider."""

from __future__ import annotations

import uuid

import pytest

from channels_app.models import Message
from tests import factories
from tests.conftest import World, api_client

pytestmark = pytest.mark.django_db


def send(client, slug: str, **payload):  # type: ignore[no-untyped-def]
    payload.setdefault("client_id", str(uuid.uuid4()))
    payload.setdefault("body", "hello")
    return client.post(
        f"/api/v1/channels/{slug}/messages", payload, content_type="application/json"
    )


@pytest.mark.parametrize("who", ["owner", "member"])
def test_it_lets_participants_and_moderators_post(world: World, who: str) -> None:
    response = send(api_client(getattr(world, who)), world.channel.slug, body="**bold**")
    assert response.status_code == 201, response.content
    message = response.json()
    assert message["seq"] == 1
    assert message["html"] == "<p><strong>bold</strong></p>\n"
    assert message["author"]["institution"]["slug"] == "guardia-civil"
    assert message["handling_code"] == "TLP:AMBER"


def test_it_refuses_an_observer_with_403_and_stores_nothing(world: World) -> None:
    response = send(api_client(world.observer), world.channel.slug)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not Message.objects.exists()


def test_it_refuses_an_outsider_with_403_on_a_listed_channel(world: World) -> None:
    client = api_client(world.outsider)
    assert send(client, world.channel.slug).status_code == 403
    assert client.get(f"/api/v1/channels/{world.channel.slug}/messages").status_code == 403
    assert client.get(f"/api/v1/channels/{world.channel.slug}").status_code == 403
    assert client.get(f"/api/v1/channels/{world.channel.slug}/members").status_code == 403


def test_it_hides_an_unlisted_channel_from_an_outsider_with_404(world: World) -> None:
    world.channel.listed = False
    world.channel.save()
    client = api_client(world.outsider)
    assert client.get(f"/api/v1/channels/{world.channel.slug}/messages").status_code == 404
    slugs = [c["slug"] for c in client.get("/api/v1/channels").json()]
    assert world.channel.slug not in slugs
    assert api_client(world.member).get(f"/api/v1/channels/{world.channel.slug}").status_code == 200


def test_it_lets_an_observer_read(world: World) -> None:
    factories.post(world.member, world.channel, "for everyone")
    response = api_client(world.observer).get(f"/api/v1/channels/{world.channel.slug}/messages")
    assert response.status_code == 200
    assert [m["body"] for m in response.json()] == ["for everyone"]


def test_it_answers_401_without_credentials(world: World) -> None:
    response = api_client(None).get(f"/api/v1/channels/{world.channel.slug}/messages")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_it_refuses_a_revoked_or_expired_token(world: World) -> None:
    token = factories.token_for(world.member)
    client = api_client(None)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    world.member.api_tokens.update(expires_at="2000-01-01T00:00:00Z")
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert (
        client.get("/api/v1/me", headers={"Authorization": "Bearer exch_nope"}).status_code == 401
    )


def test_the_same_client_id_stores_once_and_answers_200(world: World) -> None:
    client = api_client(world.member)
    client_id = str(uuid.uuid4())
    first = send(client, world.channel.slug, client_id=client_id, body="once")
    again = send(client, world.channel.slug, client_id=client_id, body="once")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Message.objects.count() == 1


def test_seq_numbers_follow_each_other(world: World) -> None:
    client = api_client(world.member)
    seqs = [send(client, world.channel.slug).json()["seq"] for _ in range(5)]
    assert seqs == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": 5}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"body": "   "}, "body"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"handling_code": "TLP:PURPLE"}, "handling_code"),
        ({"handling_code": "TLP:RED"}, "handling_code"),
        ({"parent": 999_999}, "parent"),
        ({"parent": "1"}, "parent"),
        ({"attachments": [12345]}, "attachments"),
        ({"author": "someone-else"}, "author"),
    ],
)
def test_it_refuses_bad_input_with_400_and_the_field(world: World, payload, field) -> None:  # type: ignore[no-untyped-def]
    response = send(api_client(world.member), world.channel.slug, **payload)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["field"] == field
    assert not Message.objects.exists()


def test_it_refuses_a_body_that_is_not_json(world: World) -> None:
    response = api_client(world.member).post(
        f"/api/v1/channels/{world.channel.slug}/messages",
        "{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_replies_attach_to_the_thread_root(world: World) -> None:
    root = factories.post(world.owner, world.channel, "root")
    reply = factories.post(world.member, world.channel, "reply", parent=root.pk)
    response = send(api_client(world.member), world.channel.slug, parent=reply.pk)
    assert response.json()["parent"] == root.pk


def test_messages_page_with_after_before_and_limit(world: World) -> None:
    ids = [factories.post(world.member, world.channel, str(i)).pk for i in range(10)]
    client = api_client(world.observer)
    url = f"/api/v1/channels/{world.channel.slug}/messages"
    assert [m["id"] for m in client.get(url, {"after": ids[2], "limit": 3}).json()] == ids[3:6]
    assert [m["id"] for m in client.get(url, {"before": ids[5], "limit": 2}).json()] == ids[3:5]
    assert [m["id"] for m in client.get(url, {"limit": 4}).json()] == ids[6:]
    assert client.get(url, {"limit": 201}).status_code == 400
    assert client.get(url, {"after": "x"}).status_code == 400


def test_the_author_edits_and_nobody_else(world: World) -> None:
    message = factories.post(world.member, world.channel, "draft")
    response = api_client(world.owner).patch(
        f"/api/v1/messages/{message.pk}", {"body": "hijack"}, content_type="application/json"
    )
    assert response.status_code == 403
    response = api_client(world.member).patch(
        f"/api/v1/messages/{message.pk}", {"body": "final"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["body"] == "final"
    assert response.json()["edited_at"] is not None


def test_an_outsider_cannot_learn_that_a_message_exists(world: World) -> None:
    message = factories.post(world.member, world.channel, "secret")
    client = api_client(world.outsider)
    assert client.delete(f"/api/v1/messages/{message.pk}").status_code == 404
    assert client.delete("/api/v1/messages/999999").status_code == 404


def test_delete_leaves_a_tombstone_author_or_moderator_only(world: World) -> None:
    message = factories.post(world.member, world.channel, "oops")
    assert api_client(world.observer).delete(f"/api/v1/messages/{message.pk}").status_code == 403
    response = api_client(world.owner).delete(f"/api/v1/messages/{message.pk}")
    assert response.status_code == 200
    assert response.json()["deleted"] is True
    listed = api_client(world.member).get(f"/api/v1/channels/{world.channel.slug}/messages").json()
    assert listed[0]["body"] == "" and listed[0]["deleted"] is True


def test_members_lists_who_holds_access(world: World) -> None:
    response = api_client(world.observer).get(f"/api/v1/channels/{world.channel.slug}/members")
    assert response.status_code == 200
    roles = {m["username"]: m["role"] for m in response.json()}
    assert roles == {"olivia": "moderator", "mateo": "participant", "oscar": "observer"}


def test_the_catalogue_shows_membership_and_role(world: World) -> None:
    channels = {c["slug"]: c for c in api_client(world.observer).get("/api/v1/channels").json()}
    assert channels["ops"]["is_member"] is True
    assert channels["ops"]["role"] == "observer"
    assert {"cybercrime", "penitentiary", "corruption", "medical-waste"} <= channels.keys()
    assert channels["cybercrime"]["is_member"] is False


def test_session_auth_enforces_csrf(world: World) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.member)
    response = send(client, world.channel.slug)
    assert response.status_code == 403
    assert not Message.objects.exists()
    assert client.get("/api/v1/me").json()["username"] == "mateo"


def test_unknown_api_routes_answer_json_404(world: World) -> None:
    response = api_client(world.member).get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_openapi_document_is_served() -> None:
    from django.test import Client

    document = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/channels/{slug}/messages" in document["paths"]
