"""Every route and frame that names a message, an attachment or a document by id, tried
by everyone the one by-id rule (permissions.access.message_by_id and its siblings) says
no to, and by an observer, whom it lets read.

The rule: whoever may not read the object is answered exactly, byte for byte, as for an
id that names nothing: an outsider, a banned user, a lapsed user, and a member of a
since_join channel whose institution joined after the object was made. Only a reader may
be told 403 for lacking a role. A reply's parent is looked up the same way, inside a
channel the sender may post to: a parent they may not read is answered as a missing one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from channels_app.models import (
    Attachment,
    Channel,
    Document,
    HistoryVisibility,
    Message,
    Report,
)
from permissions.membership.services import ban_create
from permissions.models import Admission, User
from tests import factories
from tests.channels_app.socket.test_consumer import bearer, empty_layer, handshake, sync
from tests.conftest import World, api_client

__all__ = ["empty_layer"]  # the consumer tests' fixture: every test starts with an empty layer

pytestmark = pytest.mark.django_db(transaction=True)

# Who is asked: those the rule refuses, and one reader who may not post.
REFUSED = ["outsider", "banned", "lapsed", "before_joining"]
READER = "observer"


@dataclass
class Scene:
    users: dict[str, User]
    message: Message
    attachment: Attachment
    document: Document
    missing: int  # an id that names no message, attachment or document


@pytest.fixture
def scene(world: World, settings: Any, tmp_path: Path) -> Scene:
    """A since_join channel whose institutions were admitted an hour ago, a message with
    an attachment and a document added five minutes ago, and an institution admitted
    (as participant) since; a banned and a lapsed user of the participants."""
    settings.MEDIA_ROOT = tmp_path / "media"
    Channel.objects.filter(pk=world.channel.pk).update(
        history_visibility=HistoryVisibility.SINCE_JOIN
    )
    Admission.objects.filter(channel=world.channel).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    attachment = factories.bare_attachment(world.channel, world.member)
    stored = default_storage.save(attachment.storage_name, ContentFile(b"ciphertext"))
    Attachment.objects.filter(pk=attachment.pk).update(storage_name=stored)
    message = factories.post(world.member, world.channel, "sent", attachments=[attachment.pk])
    document = factories.make_document(world.member, world.channel)
    earlier = timezone.now() - timedelta(minutes=5)
    Message.objects.filter(pk=message.pk).update(created_at=earlier)
    Document.objects.filter(pk=document.pk).update(created_at=earlier)
    late = factories.make_institution("late-joiners")
    factories.admit(world.channel, late, "participant")
    banned = factories.make_user("bruno", institution=world.participant_institution)
    ban_create(actor=None, channel=world.channel, user=banned)
    lapsed = factories.make_user("lars", institution=world.participant_institution)
    days = settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS + 1
    User.objects.filter(pk=lapsed.pk).update(certified_at=timezone.now() - timedelta(days=days))
    users = {
        "outsider": world.outsider,
        "banned": banned,
        "lapsed": lapsed,
        "before_joining": factories.make_user("lena", institution=late),
        "observer": world.observer,
    }
    highest = max(
        Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        Attachment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        Document.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    )
    return Scene(users, message, attachment, document, missing=highest + 1000)


# --- HTTP ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One by-id route: how to call it for an id, and what a reader who may not post
    (the observer) is answered for the scene's object."""

    name: str
    method: str
    path: str  # with {id}
    body: Callable[[], dict[str, Any] | None]
    object: str  # which of the scene's objects {id} names
    reader_status: int


def _none() -> None:
    return None


def _reply() -> dict[str, Any]:
    return {"body": "re", "client_id": str(uuid.uuid4())}


ROUTES = [
    Route("message evaluations", "get", "/messages/{id}/evaluations", _none, "message", 200),
    Route("message edit", "patch", "/messages/{id}", lambda: {"body": "changed"}, "message", 403),
    Route("message delete", "delete", "/messages/{id}", _none, "message", 403),
    Route(
        "message report", "post", "/messages/{id}/reports", lambda: {"reason": "x"}, "message", 201
    ),
    # {id} is the parent here; an observer may not post, whatever the parent.
    Route("reply", "post", "/channels/ops/messages", _reply, "message", 403),
    Route("attachment", "get", "/attachments/{id}", _none, "attachment", 200),
    Route("attachment meta", "get", "/attachments/{id}/meta", _none, "attachment", 200),
    Route("document", "get", "/documents/{id}", _none, "document", 200),
    Route("document edit", "patch", "/documents/{id}", lambda: {"title": "New"}, "document", 403),
    Route("document withdraw", "delete", "/documents/{id}", _none, "document", 403),
    Route(
        "document version",
        "post",
        "/documents/{id}/versions",
        lambda: {"attachment": 1},
        "document",
        403,
    ),
    Route("document evaluations", "get", "/documents/{id}/evaluations", _none, "document", 200),
]


def _call(client: Client, route: Route, object_id: int) -> tuple[int, bytes]:
    body = route.body()
    if route.name == "reply":
        assert body is not None
        body["parent"] = object_id
    path = "/api/v1" + route.path.format(id=object_id)
    if body is None:
        response = getattr(client, route.method)(path)
    else:
        response = getattr(client, route.method)(path, body, content_type="application/json")
    if getattr(response, "streaming", False):
        return response.status_code, _drained(response)
    return response.status_code, response.content


def _drained(response: Any) -> bytes:
    """A download's bytes, read as the server streams them (an async iterator)."""

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(read)()


def _object_id(scene: Scene, route: Route) -> int:
    return int(getattr(scene, route.object).pk)


@pytest.mark.parametrize("who", REFUSED)
def test_whoever_may_not_read_is_answered_as_for_an_id_that_names_nothing(
    scene: Scene, who: str
) -> None:
    client = api_client(scene.users[who])
    differing = []
    for route in ROUTES:
        real = _call(client, route, _object_id(scene, route))
        missing = _call(client, route, scene.missing)
        if real != missing:
            differing.append((route.name, real, missing))
        elif route.name != "reply" and real[0] != 404:
            differing.append((route.name, real, "expected 404"))
    assert differing == []
    message = Message.objects.get(pk=scene.message.pk)
    assert (message.body, message.deleted_at, message.replies.count()) == ("sent", None, 0)
    assert not Report.objects.exists()
    assert scene.document.versions.count() == 1
    assert Document.objects.get(pk=scene.document.pk).title == scene.document.title
    assert Document.objects.get(pk=scene.document.pk).withdrawn_at is None


def test_the_reply_route_answers_each_refused_sender_as_its_channel_rule_says(
    scene: Scene,
) -> None:
    """The parent is checked inside the channel's own guard: an outsider and a banned
    user may not post there (403), a lapsed user is signed out (401), and a participant
    who joined since may post but not answer what they cannot see (400 on `parent`)."""
    route = next(r for r in ROUTES if r.name == "reply")
    statuses = {
        who: _call(api_client(scene.users[who]), route, scene.message.pk)[0] for who in REFUSED
    }
    assert statuses == {"outsider": 403, "banned": 403, "lapsed": 401, "before_joining": 400}


def test_a_reader_is_told_what_they_lack_only_once_the_read_has_passed(scene: Scene) -> None:
    """The observer reads everything here; writes are a 403 for the object, where an id
    that names nothing is still a 404 (but for the reply: the channel refuses first)."""
    client = api_client(scene.users[READER])
    answers = {}
    for route in ROUTES:
        status, _ = _call(client, route, _object_id(scene, route))
        missing, _ = _call(client, route, scene.missing)
        answers[route.name] = (status, missing)
    assert answers == {
        route.name: (route.reader_status, 403 if route.name == "reply" else 404) for route in ROUTES
    }


# --- the WebSocket ---------------------------------------------------------------------

FRAMES: dict[str, Callable[[int], dict[str, Any]]] = {
    "message.edit": lambda i: {"type": "message.edit", "message": i, "body": "x", "ref": "r"},
    "message.delete": lambda i: {"type": "message.delete", "message": i, "ref": "r"},
    "message.report": lambda i: {
        "type": "message.report",
        "message": i,
        "reason": "x",
        "ref": "r",
    },
    # The same client_id for the real parent and the missing one: nothing is stored.
    "message.send": lambda i: {
        "type": "message.send",
        "channel": "ops",
        "client_id": "0b7e6a3c-4f1d-4a8e-9c2b-5d6e7f8a9b0c",
        "body": "re",
        "parent": i,
    },
}


async def _frame_answer(user: User, frame: dict[str, Any]) -> Any:
    """The first thing a fresh socket of `user` is told after `frame`: a frame, that the
    socket was closed (and its code), or that it never opened (a lapsed user's handshake
    is refused, as their HTTP requests are)."""
    connected, socket = await handshake(await sync(bearer)(user))
    try:
        if not connected:
            return ("refused at the handshake",)
        await socket.send_json_to(frame)
        output = await socket.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            return ("closed", output.get("code"))
        return json.loads(output["text"])
    finally:
        await socket.disconnect()


@pytest.mark.parametrize("who", REFUSED)
async def test_whoever_may_not_read_gets_the_frame_a_missing_id_gets(
    scene: Scene, who: str
) -> None:
    user = scene.users[who]
    answers = {}
    for name, frame in FRAMES.items():
        real = await _frame_answer(user, frame(scene.message.pk))
        missing = await _frame_answer(user, frame(scene.missing))
        answers[name] = real == missing, real
    assert all(same for same, _ in answers.values()), answers
    by_id = {name: real for name, (_, real) in answers.items() if name != "message.send"}
    not_found = {"type": "error", "code": "not_found", "message": "No such message.", "ref": "r"}
    assert by_id == {
        name: ("refused at the handshake",) if who == "lapsed" else not_found for name in by_id
    }
    sent = answers["message.send"][1]
    assert (
        sent
        == {
            "outsider": {
                "type": "error",
                "code": "forbidden",
                "message": "Your institution is not a member of this channel.",
                "ref": "0b7e6a3c-4f1d-4a8e-9c2b-5d6e7f8a9b0c",
            },
            "banned": {
                "type": "error",
                "code": "forbidden",
                "message": "Your institution is not a member of this channel.",
                "ref": "0b7e6a3c-4f1d-4a8e-9c2b-5d6e7f8a9b0c",
            },
            "lapsed": ("refused at the handshake",),
            "before_joining": {
                "type": "error",
                "code": "bad_request",
                "message": "parent is not a message of this channel.",
                "ref": "0b7e6a3c-4f1d-4a8e-9c2b-5d6e7f8a9b0c",
                "field": "parent",
            },
        }[who]
    )
    message = await sync(Message.objects.get)(pk=scene.message.pk)
    assert (message.body, message.deleted_at) == ("sent", None)
    assert not await sync(Report.objects.exists)()


async def test_over_the_socket_a_reader_is_told_what_they_lack_only_once_the_read_passed(
    scene: Scene,
) -> None:
    user = scene.users[READER]
    answers = {}
    for name, frame in FRAMES.items():
        real = await _frame_answer(user, frame(scene.message.pk))
        missing = await _frame_answer(user, frame(scene.missing))
        answers[name] = (real.get("code") or real["type"], missing.get("code"))
    assert answers == {
        "message.edit": ("forbidden", "not_found"),
        "message.delete": ("forbidden", "not_found"),
        "message.report": ("done", "not_found"),
        "message.send": ("forbidden", "forbidden"),  # an observer may not post at all
    }
