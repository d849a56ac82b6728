"""One table of role and action, checked over HTTP and over the WebSocket alike.

Each row names an action, how to do it on each path (HTTP always; the socket where
SPEC §4 or its extensions give a frame for it) and the answer every role must get:
None when allowed, else the error code (`forbidden`, `not_found`, `conflict`). Both
paths are driven from the same rows, so they cannot drift apart.

The stage: channel "ops" (listed). Roles: a moderator, a participant, an observer, an
outsider, a banned participant, the moderator of another channel, and a platform
admin (staff, no institution). Each test builds the stage afresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.models import F

from channels_app.models import Channel, Message
from channels_app.reports.services import report_file
from exchange.asgi import application
from permissions.membership.requests import request_file
from permissions.membership.services import ban_create
from permissions.models import User
from permissions.people.services import user_upsert
from tests import factories
from tests.conftest import World, api_client

ROLES = [
    "moderator",
    "participant",
    "observer",
    "outsider",
    "banned",
    "other_moderator",
    "platform_admin",
]


@dataclass
class Stage:
    users: dict[str, User]
    own_message: dict[str, int]  # each role's own message in ops
    others_message: int  # a message by paula, a participant
    request_id: int  # an open access request of a non-admitted institution
    report_id: int  # an open report on paula's message


def _plant(channel: Channel, author: User, body: str) -> int:
    """A message written when its author could still post (their role may have changed)."""
    Channel.objects.filter(pk=channel.pk).update(last_seq=F("last_seq") + 1)
    channel.refresh_from_db()
    return Message.objects.create(
        channel=channel,
        author=author,
        client_id=uuid.uuid4(),
        seq=channel.last_seq,
        body=body,
        html=f"<p>{body}</p>",
    ).pk


def build_stage(world: World) -> Stage:
    channel = world.channel
    paula = factories.make_user("paula", institution=world.participant_institution)
    banned = factories.make_user("bruno", institution=world.participant_institution)
    ban_create(actor=None, channel=channel, user=banned)
    elsewhere = factories.make_channel("elsewhere")
    interpol = factories.make_institution("interpol-liaison", country="FR")
    factories.admit(elsewhere, interpol)
    other_moderator = factories.make_user("mara", institution=interpol)
    factories.make_moderator(elsewhere, other_moderator)
    admin = user_upsert(username="admin", institution=None, is_staff=True)
    extra = factories.make_institution("fiscalia", country="AR")
    factories.admit(channel, extra, "observer")
    users = {
        "moderator": world.owner,
        "participant": world.member,
        "observer": world.observer,
        "outsider": world.outsider,
        "banned": banned,
        "other_moderator": other_moderator,
        "platform_admin": admin,
    }
    own = {role: _plant(channel, user, f"by {role}") for role, user in users.items()}
    others = _plant(channel, paula, "by paula")
    asker = factories.make_user("amelia", institution=factories.make_institution("mp-chile"))
    request = request_file(actor=asker, channel_slug="ops", note="we work on this")
    report = report_file(actor=world.member, message_id=others, reason="off topic")
    return Stage(users, own, others, request.pk, report.pk)


# --- the actions -------------------------------------------------------------------

Http = Callable[[Stage, str], tuple[str, str, dict[str, Any] | None]]
Ws = Callable[[Stage, str], dict[str, Any]]


@dataclass(frozen=True)
class Action:
    name: str
    http: Http
    ws: Ws | None
    ws_answer: str | None  # the frame type that means "done"
    expected: dict[str, str | None]  # role → None (allowed) or the error code


def _only(allowed: set[str], *, others: str = "forbidden", **special: str) -> dict[str, str | None]:
    return {role: None if role in allowed else special.get(role, others) for role in ROLES}


MEMBERS = {"moderator", "participant", "observer"}
POSTERS = {"moderator", "participant"}
# Roles that cannot read ops are told 404 for anything about one of its messages: the
# message's existence is as secret as its content.
UNREAD = {"outsider": "not_found", "banned": "not_found", "other_moderator": "not_found",
          "platform_admin": "not_found"}  # fmt: skip

ACTIONS = [
    Action(
        "read",
        lambda s, r: ("get", "/api/v1/channels/ops/messages", None),
        lambda s, r: {"type": "subscribe", "channel": "ops"},
        "subscribed",
        _only(MEMBERS),
    ),
    Action(
        "post",
        lambda s, r: (
            "post",
            "/api/v1/channels/ops/messages",
            {"body": "hi", "client_id": str(uuid.uuid4())},
        ),
        lambda s, r: {
            "type": "message.send",
            "channel": "ops",
            "body": "hi",
            "client_id": str(uuid.uuid4()),
        },
        "message.ack",
        _only(POSTERS),
    ),
    Action(
        "edit_own",
        lambda s, r: ("patch", f"/api/v1/messages/{s.own_message[r]}", {"body": "edited"}),
        lambda s, r: {"type": "message.edit", "message": s.own_message[r], "body": "edited"},
        "done",
        _only(POSTERS, **UNREAD),
    ),
    Action(
        "delete_own",
        lambda s, r: ("delete", f"/api/v1/messages/{s.own_message[r]}", None),
        lambda s, r: {"type": "message.delete", "message": s.own_message[r]},
        "done",
        _only(POSTERS, **UNREAD),
    ),
    Action(
        "delete_others",
        lambda s, r: ("delete", f"/api/v1/messages/{s.others_message}", None),
        lambda s, r: {"type": "message.delete", "message": s.others_message},
        "done",
        _only({"moderator"}, **UNREAD),
    ),
    Action(
        "report",
        lambda s, r: (
            "post",
            f"/api/v1/messages/{s.own_message[r]}/reports",
            {"reason": "please look"},
        ),
        lambda s, r: {
            "type": "message.report",
            "message": s.own_message[r],
            "reason": "please look",
        },
        "done",
        _only(MEMBERS, **UNREAD),
    ),
    Action(
        "list_admissions",
        lambda s, r: ("get", "/api/v1/channels/ops/admissions", None),
        None,
        None,
        _only({"moderator"}),
    ),
    Action(
        "admit",
        lambda s, r: (
            "post",
            "/api/v1/channels/ops/admissions",
            {"institution": "carabineros", "role": "observer"},
        ),
        None,
        None,
        _only({"moderator"}),
    ),
    Action(
        "change_role",
        lambda s, r: ("patch", "/api/v1/channels/ops/admissions/fiscalia", {"role": "participant"}),
        None,
        None,
        _only({"moderator"}),
    ),
    Action(
        "remove_institution",
        lambda s, r: ("delete", "/api/v1/channels/ops/admissions/fiscalia", None),
        None,
        None,
        _only({"moderator"}),
    ),
    Action(
        "ban",
        lambda s, r: ("post", "/api/v1/channels/ops/bans", {"username": "paula"}),
        None,
        None,
        _only({"moderator"}),
    ),
    Action(
        "unban",
        lambda s, r: ("delete", "/api/v1/channels/ops/bans/bruno", None),
        None,
        None,
        _only({"moderator"}),
    ),
    Action(
        "approve_request",
        lambda s, r: ("post", f"/api/v1/requests/{s.request_id}/approve", {"role": "observer"}),
        None,
        None,
        _only({"moderator"}, others="not_found"),
    ),
    Action(
        "decline_request",
        lambda s, r: ("post", f"/api/v1/requests/{s.request_id}/decline", None),
        None,
        None,
        _only({"moderator"}, others="not_found"),
    ),
    Action(
        "read_reports",
        lambda s, r: ("get", "/api/v1/channels/ops/reports?state=open", None),
        None,
        None,
        _only({"moderator"}),
    ),
    Action(
        "resolve_report",
        lambda s, r: (
            "post",
            f"/api/v1/reports/{s.report_id}/resolve",
            {"resolution": "spoke to them"},
        ),
        None,
        None,
        _only({"moderator"}, others="not_found"),
    ),
    Action(
        "read_channel_audit",
        lambda s, r: ("get", "/api/v1/audit?channel=ops", None),
        None,
        None,
        _only({"moderator", "platform_admin"}, other_moderator="not_found"),
    ),
    Action(
        "ask_to_join",
        lambda s, r: ("post", "/api/v1/channels/ops/requests", {"note": "let us in"}),
        None,
        None,
        _only(
            {"outsider", "other_moderator"},
            others="conflict",
            platform_admin="forbidden",
        ),
    ),
]

STATUS_CODES = {"forbidden": 403, "not_found": 404, "conflict": 409}
CASES = [(a, role) for a in ACTIONS for role in ROLES]
WS_CASES = [(a, role) for a in ACTIONS if a.ws is not None for role in ROLES]


def _case_id(case: Any) -> str:
    return case.name if isinstance(case, Action) else str(case)


# --- over HTTP ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "role"), CASES, ids=_case_id)
def test_http_answers_as_the_table_says(world: World, action: Action, role: str) -> None:
    stage = build_stage(world)
    method, path, body = action.http(stage, role)
    client = api_client(stage.users[role])
    kwargs: dict[str, Any] = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = body
    response = getattr(client, method)(path, **kwargs)
    expected = action.expected[role]
    if expected is None:
        assert 200 <= response.status_code < 300, response.content
    else:
        assert response.status_code == STATUS_CODES[expected], response.content
        assert response.json()["error"]["code"] == expected


# --- over the WebSocket ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("action", "role"), WS_CASES, ids=_case_id)
async def test_websocket_answers_as_the_table_says(world: World, action: Action, role: str) -> None:
    stage = await database_sync_to_async(build_stage)(world)
    token = await database_sync_to_async(factories.token_for)(stage.users[role])
    communicator = WebsocketCommunicator(
        application, "/ws/v1/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    try:
        assert action.ws is not None
        await communicator.send_json_to(action.ws(stage, role))
        answer = await communicator.receive_json_from(timeout=5)
        # A broadcast of one's own change may follow; the first frame is the answer.
        expected = action.expected[role]
        if expected is None:
            assert answer["type"] == action.ws_answer, answer
        else:
            assert answer["type"] == "error", answer
            assert answer["code"] == expected, answer
    finally:
        await communicator.disconnect()
