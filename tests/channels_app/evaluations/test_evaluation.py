"""The 4x4 evaluation of SPEC §2: carried by a message, changed by its author, with history,
over the HTTP API and the WebSocket alike."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from channels_app.evaluations.pair import Evaluation
from channels_app.messages.services import message_send
from channels_app.models import EvaluationChange, HistoryVisibility, Message
from permissions.models import Admission
from tests import factories
from tests.channels_app.socket.test_consumer import (
    assert_alive,
    assert_message_object,
    open_socket,
    receive,
    subscribe,
    sync,
)
from tests.conftest import World, api_client

B2 = {"source_reliability": "B", "information_assessment": 2}
C3 = {"source_reliability": "C", "information_assessment": 3}


def api_send(user: Any, body: dict[str, Any], slug: str = "ops") -> Any:
    return api_client(user).post(
        f"/api/v1/channels/{slug}/messages",
        {"client_id": str(uuid.uuid4()), "body": "seen at the port", **body},
        content_type="application/json",
    )


def api_patch(user: Any, message_id: int, body: dict[str, Any]) -> Any:
    return api_client(user).patch(
        f"/api/v1/messages/{message_id}", body, content_type="application/json"
    )


def history(user: Any, message_id: int) -> Any:
    return api_client(user).get(f"/api/v1/messages/{message_id}/evaluations")


def values(response: Any) -> list[tuple[str | None, int | None, str]]:
    return [
        (c["source_reliability"], c["information_assessment"], c["changed_by"]["username"])
        for c in response.json()
    ]


@pytest.mark.django_db
def test_a_message_is_posted_with_an_evaluation_and_its_history_begins(world: World) -> None:
    response = api_send(world.member, {"evaluation": B2})
    assert response.status_code == 201, response.content
    assert response.json()["evaluation"] == B2
    message_id = response.json()["id"]
    listed = api_client(world.observer).get("/api/v1/channels/ops/messages").json()
    assert listed[0]["evaluation"] == B2
    assert values(history(world.observer, message_id)) == [("B", 2, "mateo")]


@pytest.mark.django_db
def test_a_message_without_one_carries_null_and_an_empty_history(world: World) -> None:
    response = api_send(world.member, {})
    assert response.json()["evaluation"] is None
    assert history(world.member, response.json()["id"]).json() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "evaluation",
    [
        {"source_reliability": "B"},
        {"information_assessment": 2},
        {"source_reliability": "D", "information_assessment": 2},
        {"source_reliability": "b", "information_assessment": 2},
        {"source_reliability": "B", "information_assessment": 5},
        {"source_reliability": "B", "information_assessment": 0},
        {"source_reliability": "B", "information_assessment": "2"},
        {"source_reliability": "B", "information_assessment": 2.0},
        {"source_reliability": "B", "information_assessment": 2, "grade": "high"},
        "B2",
        [],
    ],
)
def test_an_evaluation_outside_the_scheme_is_refused_and_nothing_stored(
    world: World, evaluation: object
) -> None:
    response = api_send(world.member, {"evaluation": evaluation})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_request"
    assert response.json()["error"]["field"].startswith("evaluation")
    assert not Message.objects.exists() and not EvaluationChange.objects.exists()


@pytest.mark.django_db
def test_the_service_refuses_a_pair_outside_the_scheme_whoever_builds_it(world: World) -> None:
    from exchange.kernel.errors import BadRequest

    with pytest.raises(BadRequest):
        message_send(
            actor=world.member,
            channel_slug="ops",
            client_id=uuid.uuid4(),
            body="x",
            evaluation=Evaluation("Z", 9),
        )
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_the_author_changes_and_withdraws_it_and_every_step_is_kept(world: World) -> None:
    message_id = api_send(world.member, {"evaluation": B2}).json()["id"]
    changed = api_patch(world.member, message_id, {"evaluation": C3})
    assert changed.status_code == 200 and changed.json()["evaluation"] == C3
    assert changed.json()["body"] == "seen at the port" and changed.json()["edited_at"] is None
    # The same pair again is no change; withdrawing is one.
    assert api_patch(world.member, message_id, {"evaluation": C3}).status_code == 200
    withdrawn = api_patch(world.member, message_id, {"evaluation": None})
    assert withdrawn.json()["evaluation"] is None
    assert values(history(world.member, message_id)) == [
        ("B", 2, "mateo"),
        ("C", 3, "mateo"),
        (None, None, "mateo"),
    ]
    both = api_patch(world.member, message_id, {"body": "seen twice", "evaluation": B2})
    assert (both.json()["body"], both.json()["evaluation"]) == ("seen twice", B2)
    assert both.json()["edited_at"] is not None
    # A body-only edit leaves the evaluation as it is.
    assert api_patch(world.member, message_id, {"body": "seen"}).json()["evaluation"] == B2
    assert EvaluationChange.objects.count() == 4


@pytest.mark.django_db
def test_only_the_author_who_may_still_post_changes_it(world: World) -> None:
    message_id = api_send(world.member, {"evaluation": B2}).json()["id"]
    assert api_patch(world.owner, message_id, {"evaluation": C3}).status_code == 403
    assert api_patch(world.observer, message_id, {"evaluation": C3}).status_code == 403
    assert api_patch(world.outsider, message_id, {"evaluation": C3}).status_code == 404
    factories.admit(world.channel, world.participant_institution, "observer")
    assert api_patch(world.member, message_id, {"evaluation": C3}).status_code == 403
    assert Message.objects.get().information_assessment == 2
    assert EvaluationChange.objects.count() == 1


@pytest.mark.django_db
def test_an_edit_that_names_nothing_or_a_deleted_message_is_refused(world: World) -> None:
    message_id = api_send(world.member, {"evaluation": B2}).json()["id"]
    empty = api_patch(world.member, message_id, {})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "bad_request"
    assert api_client(world.member).delete(f"/api/v1/messages/{message_id}").status_code == 200
    assert api_patch(world.member, message_id, {"evaluation": C3}).status_code == 409
    # A tombstone shows no evaluation; its history stays for the record.
    listed = api_client(world.member).get("/api/v1/channels/ops/messages").json()
    assert listed[0]["deleted"] and listed[0]["evaluation"] is None


@pytest.mark.django_db
def test_the_history_is_as_secret_as_the_message(world: World) -> None:
    message_id = api_send(world.member, {"evaluation": B2}).json()["id"]
    assert history(world.outsider, message_id).status_code == 404
    assert history(world.member, 999_999).status_code == 404
    assert history(None, message_id).status_code == 401


@pytest.mark.django_db
def test_the_history_of_a_message_from_before_joining_a_since_join_channel_is_hidden(
    world: World,
) -> None:
    world.channel.history_visibility = HistoryVisibility.SINCE_JOIN
    world.channel.save()
    message_id = api_send(world.member, {"evaluation": B2}).json()["id"]
    Admission.objects.filter(institution=world.observer_institution).update(
        created_at=timezone.now() + timedelta(minutes=1)
    )
    assert history(world.observer, message_id).status_code == 404
    assert history(world.member, message_id).status_code == 200


# --- the WebSocket --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_over_the_socket_an_evaluation_is_sent_changed_and_broadcast(world: World) -> None:
    async with open_socket(world.member) as author, open_socket(world.observer) as reader:
        await subscribe(author)
        await subscribe(reader)
        client_id = str(uuid.uuid4())
        await author.send_json_to(
            {
                "type": "message.send",
                "channel": "ops",
                "client_id": client_id,
                "body": "lorry seen twice",
                "evaluation": B2,
            }
        )
        ack = await receive(author)
        assert ack["type"] == "message.ack" and ack["message"]["evaluation"] == B2
        assert_message_object(ack["message"])
        assert (await receive(reader))["message"]["evaluation"] == B2
        assert (await receive(author))["type"] == "message.new"

        message_id = ack["message"]["id"]
        await author.send_json_to(
            {"type": "message.edit", "message": message_id, "evaluation": C3, "ref": "e1"}
        )
        # The author's `done` and their copy of the broadcast may come in either order.
        answers = {frame["type"]: frame for frame in [await receive(author), await receive(author)]}
        done = answers["done"]
        assert (done["of"], done["ref"], done["message"]["evaluation"]) == (
            "message.edit",
            "e1",
            C3,
        )
        assert answers["message.updated"]["message"]["evaluation"] == C3
        updated = await receive(reader)
        assert updated["type"] == "message.updated" and updated["message"]["evaluation"] == C3

        # A half evaluation is an error frame naming the field, and the socket serves on.
        await author.send_json_to(
            {
                "type": "message.edit",
                "message": message_id,
                "evaluation": {"source_reliability": "A"},
            }
        )
        refused = await receive(author)
        assert refused["type"] == "error" and refused["code"] == "bad_request"
        assert refused["field"].startswith("evaluation")
        await assert_alive(author)
    changes = await sync(lambda: list(EvaluationChange.objects.values_list("source_reliability")))()
    assert changes == [("B",), ("C",)]
