"""Moderation over the API, end to end: removal with key rotation, access requests,
reports, mass assignment, moderators out of their channel, and what the audit log holds.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from io import StringIO

import pytest
import rfc8785
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from channels_app.models import Message
from exchange.asgi import application
from permissions.people.services import user_upsert
from tests import factories
from tests.conftest import World, api_client
from tests.e2ee_clients import Member

sync = database_sync_to_async
SECRET_TEXT = "the informant meets at the harbour"


def _actions() -> list[str]:
    """The audit actions so far, without the token issues of the test clients."""
    return [
        action
        for action in AuditEvent.objects.values_list("action", flat=True)
        if action != "token.issued"
    ]


def _json(client: Client, method: str, path: str, body: object | None = None):  # type: ignore[no-untyped-def]
    kwargs: dict[str, object] = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = body
    return getattr(client, method)(path, **kwargs)


def _keyed(world: World) -> dict[str, Member]:
    """Every member registers an identity key; the moderator starts epoch 1."""
    members = {
        u.username: Member(u.username, api_client(u))
        for u in (world.owner, world.member, world.observer)
    }
    for member in members.values():
        member.register()
    response = members["olivia"].start_epoch("ops", 1)
    assert response.status_code == 201, response.content
    for name in ("mateo", "oscar"):
        members[name].fetch_share("ops", 1)
    return members


# --- removal while subscribed: the check of issue 4 ----------------------------------


@pytest.mark.django_db(transaction=True)
async def test_removing_an_institution_while_its_member_is_subscribed(world: World) -> None:
    members = await sync(_keyed)(world)
    await sync(factories.post)(world.member, world.channel, SECRET_TEXT)
    token = await sync(factories.token_for)(world.observer)
    socket = WebsocketCommunicator(
        application, "/ws/v1/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    assert (await socket.connect(timeout=5))[0]
    await socket.send_json_to({"type": "subscribe", "channel": "ops"})
    assert (await socket.receive_json_from(timeout=5))["type"] == "subscribed"

    owner = members["olivia"].client
    removed = await sync(_json)(owner, "delete", "/api/v1/channels/ops/admissions/policia-federal")
    assert removed.status_code == 204

    # The socket hears at once, and nothing more from the channel.
    assert await socket.receive_json_from(timeout=1) == {
        "type": "channel.revoked",
        "channel": "ops",
    }
    await sync(factories.post)(world.member, world.channel, "after the removal")
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()

    # Every later request is refused.
    oscar = members["oscar"].client
    assert (await sync(oscar.get)("/api/v1/channels/ops/messages")).status_code == 403
    assert (await sync(oscar.get)("/api/v1/channels/ops/epochs/1/share")).status_code == 403

    # The epoch is stale, and uploads to it are refused.
    detail = (await sync(owner.get)("/api/v1/channels/ops")).json()
    assert (detail["epoch"], detail["epoch_stale"]) == (1, True)
    upload = await sync(members["mateo"].upload)("ops", 1, b"%PDF- after removal")
    assert upload.status_code == 409

    # The removing moderator's client starts epoch 2 for the remaining keyed members only.
    rotated = await sync(members["olivia"].start_epoch)("ops", 2)
    assert rotated.status_code == 201, rotated.content
    await sync(members["mateo"].fetch_share)("ops", 2)
    upload = await sync(members["mateo"].upload)("ops", 2, b"%PDF- for the remaining")
    assert upload.status_code == 201
    assert (await sync(oscar.get)("/api/v1/channels/ops/epochs/2/share")).status_code == 403

    # The audit chain verifies and holds the removal and the rotation, not the text.
    verdict = (await sync(owner.get)("/api/v1/audit/verify")).json()
    assert verdict["ok"] is True
    events = (await sync(owner.get)("/api/v1/audit?channel=ops&limit=1000")).json()
    actions = [e["action"] for e in events]
    assert "admission.removed" in actions
    removal = next(e for e in events if e["action"] == "admission.removed")
    assert (removal["actor"], removal["target"]) == ("olivia", "institution:policia-federal")
    stale = next(e for e in events if e["action"] == "epoch.stale")
    assert stale["data"] == {"epoch": 1, "reason": "institution removed"}
    rotation = [e for e in events if e["action"] == "epoch.created"]
    assert [e["data"]["epoch"] for e in rotation] == [1, 2]
    assert rotation[1]["data"]["recipients"] == ["mateo", "olivia"]
    assert actions.index("admission.removed") < actions.index("epoch.stale")
    everything = json.dumps(events)
    assert SECRET_TEXT not in everything and "AGE-SECRET-KEY" not in everything

    # A participant cannot read the audit log.
    mateo = members["mateo"].client
    assert (await sync(mateo.get)("/api/v1/audit")).status_code == 403
    assert (await sync(mateo.get)("/api/v1/audit/verify")).status_code == 403

    # An altered row makes verify_audit fail, naming it.
    await sync(_alter_event)(removal["seq"])
    with pytest.raises(CommandError) as failure:
        await sync(call_command)("verify_audit")
    assert failure.value.returncode == 1
    assert f"sequence number {removal['seq']}" in str(failure.value)


def _alter_event(seq: int) -> None:
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(f"UPDATE {table} SET target = %s WHERE seq = %s", ["nobody", seq])  # noqa: S608
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


# --- the audit log as a client reads it -----------------------------------------------


@pytest.mark.django_db
def test_a_client_can_recompute_every_hash_from_the_api(world: World) -> None:
    factories.post(world.member, world.channel, SECRET_TEXT)
    owner = api_client(world.owner)
    _json(owner, "post", "/api/v1/channels/ops/bans", {"username": "mateo"})
    admin = api_client(user_upsert(username="root", institution=None, is_staff=True))
    events = admin.get("/api/v1/audit?limit=1000").json()
    assert events and [e["seq"] for e in events] == list(range(1, len(events) + 1))
    previous = "0" * 64
    for event in events:
        hashed = {k: v for k, v in event.items() if k not in ("hash", "channel")}
        assert hashed["prev_hash"] == previous
        assert hashlib.sha256(rfc8785.dumps(hashed)).hexdigest() == event["hash"]
        previous = event["hash"]
    assert admin.get("/api/v1/audit/verify").json() == {
        "ok": True, "events": len(events), "head": previous, "broken_seq": None, "reason": ""
    }  # fmt: skip


@pytest.mark.django_db
def test_a_moderator_reads_only_the_events_of_their_channels(world: World) -> None:
    elsewhere = factories.make_channel("elsewhere")
    interpol = factories.make_institution("interpol-liaison", country="FR")
    factories.admit(elsewhere, interpol)
    mara = factories.make_user("mara", institution=interpol)
    factories.make_moderator(elsewhere, mara)
    events = api_client(mara).get("/api/v1/audit?limit=1000").json()
    assert events and {e["channel"] for e in events} == {"elsewhere"}
    assert api_client(mara).get("/api/v1/audit?channel=ops").status_code == 404
    after = events[0]["seq"]
    later = api_client(mara).get(f"/api/v1/audit?after={after}").json()
    assert all(e["seq"] > after for e in later)


@pytest.mark.django_db
def test_sign_in_success_and_failure_are_audited_without_the_password(world: World) -> None:
    client = Client()
    refused = client.post("/login/", {"username": "mateo", "password": "wrong horse"})
    assert refused.status_code == 200  # the form again, with the error
    signed = client.post(
        "/login/", {"username": "mateo", "password": "correct horse battery staple"}
    )
    assert signed.status_code == 302
    failed = AuditEvent.objects.get(action="user.sign_in_failed")
    assert failed.target == "user:mateo"
    assert "wrong horse" not in json.dumps(failed.data)
    assert AuditEvent.objects.filter(action="user.signed_in", actor="mateo").exists()


@pytest.mark.django_db
def test_tokens_issued_and_revoked_are_audited_without_the_secret(world: World) -> None:
    client = api_client(world.member)
    secret = client.post("/api/v1/tokens", {"name": "laptop"}, content_type="application/json")
    token_id = client.get("/api/v1/tokens").json()[0]["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    issued = AuditEvent.objects.filter(action="token.issued").last()
    assert issued is not None and secret.json()["token"] not in json.dumps(issued.data)
    assert AuditEvent.objects.filter(action="token.revoked", target=f"token:{token_id}").exists()


# --- moderators act only in their own channels ---------------------------------------


@pytest.mark.django_db
def test_a_moderator_of_another_channel_cannot_act_on_this_one(world: World) -> None:
    elsewhere = factories.make_channel("elsewhere")
    factories.admit(elsewhere, world.outsider_institution)
    factories.make_moderator(elsewhere, world.outsider)
    ursula = api_client(world.outsider)
    message = factories.post(world.member, world.channel, "mine")
    before = AuditEvent.objects.count()
    assert (
        _json(ursula, "delete", "/api/v1/channels/ops/admissions/guardia-civil").status_code == 403
    )
    assert (
        _json(ursula, "post", "/api/v1/channels/ops/bans", {"username": "mateo"}).status_code == 403
    )
    assert (
        _json(ursula, "post", "/api/v1/channels/ops/admissions", {"institution": "carabineros"})
    ).status_code == 403
    assert _json(ursula, "delete", f"/api/v1/messages/{message.pk}").status_code == 404
    assert AuditEvent.objects.count() == before
    assert api_client(world.member).get("/api/v1/channels/ops/messages").status_code == 200


# --- mass assignment -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/channels/ops/admissions",
         {"institution": "carabineros", "admitted_by": "ursula"}, "admitted_by"),
        ("patch", "/api/v1/channels/ops/admissions/policia-federal",
         {"role": "participant", "channel": "x"}, "channel"),
        ("post", "/api/v1/channels/ops/bans", {"username": "oscar", "banned_by": "mateo"},
         "banned_by"),
        ("post", "/api/v1/channels/ops/requests", {"note": "hi", "state": "approved"}, "state"),
        ("post", "/api/v1/messages/{message}/reports", {"reason": "x", "state": "resolved"},
         "state"),
        ("post", "/api/v1/channels/ops/admissions", {"institution": "carabineros",
                                                     "role": "moderator"}, "role"),
    ],
    ids=["admitted_by", "channel", "banned_by", "request-state", "report-state", "role-value"],
)  # fmt: skip
def test_unknown_or_forbidden_fields_are_refused_and_change_nothing(
    world: World, method: str, path: str, body: dict[str, object], field: str
) -> None:
    message = factories.post(world.member, world.channel, "x")
    client = api_client(world.outsider if "requests" in path else world.owner)
    before = AuditEvent.objects.count()
    response = _json(client, method, path.format(message=message.pk), body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert AuditEvent.objects.count() == before


# --- access requests -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_access_request_answered_by_a_moderator_admits_the_institution(world: World) -> None:
    ursula, owner = api_client(world.outsider), api_client(world.owner)
    filed = _json(ursula, "post", "/api/v1/channels/ops/requests", {"note": "we prosecute this"})
    assert filed.status_code == 201
    request_id = filed.json()["id"]
    again = _json(ursula, "post", "/api/v1/channels/ops/requests", {"note": "please"})
    assert again.status_code == 409
    # The requester sees their own request; the moderator sees it among all.
    assert [r["id"] for r in ursula.get("/api/v1/channels/ops/requests").json()] == [request_id]
    listed = owner.get("/api/v1/channels/ops/requests?state=open").json()
    assert [(r["institution"]["slug"], r["note"]) for r in listed] == [
        ("carabineros", "we prosecute this")
    ]
    approved = _json(owner, "post", f"/api/v1/requests/{request_id}/approve", {"role": "observer"})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert ursula.get("/api/v1/channels/ops/messages").status_code == 200
    refused = _json(ursula, "post", "/api/v1/channels/ops/messages",
                    {"body": "hi", "client_id": str(uuid.uuid4())})  # fmt: skip
    assert refused.status_code == 403
    assert _json(owner, "post", f"/api/v1/requests/{request_id}/decline").status_code == 409
    assert _actions()[-3:] == [
        "access_request.filed",
        "admission.created",
        "access_request.approved",
    ]


@pytest.mark.django_db
def test_a_declined_request_leaves_the_institution_out_and_may_be_filed_again(
    world: World,
) -> None:
    ursula, owner = api_client(world.outsider), api_client(world.owner)
    request_id = _json(ursula, "post", "/api/v1/channels/ops/requests").json()["id"]
    declined = _json(owner, "post", f"/api/v1/requests/{request_id}/decline")
    assert declined.json()["state"] == "declined"
    assert ursula.get("/api/v1/channels/ops/messages").status_code == 403
    assert _json(ursula, "post", "/api/v1/channels/ops/requests").status_code == 201


# --- reports -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_report_reaches_the_moderators_who_resolve_it_by_deleting_the_message(
    world: World,
) -> None:
    offending = factories.post(world.member, world.channel, SECRET_TEXT)
    oscar, owner = api_client(world.observer), api_client(world.owner)
    filed = _json(oscar, "post", f"/api/v1/messages/{offending.pk}/reports", {"reason": "leak"})
    assert filed.status_code == 201
    report_id = filed.json()["id"]
    assert _json(oscar, "post", f"/api/v1/messages/{offending.pk}/reports",
                 {"reason": "again"}).status_code == 409  # fmt: skip
    # Neither the reporter nor platform staff see the reports; the moderator does.
    assert oscar.get("/api/v1/channels/ops/reports").status_code == 403
    admin = api_client(user_upsert(username="root", institution=None, is_staff=True))
    assert admin.get("/api/v1/channels/ops/reports").status_code == 403
    open_reports = owner.get("/api/v1/channels/ops/reports?state=open").json()
    assert [(r["id"], r["reason"], r["message_author"]) for r in open_reports] == [
        (report_id, "leak", "mateo")
    ]
    resolved = _json(owner, "post", f"/api/v1/reports/{report_id}/resolve",
                     {"resolution": "removed", "delete_message": True})  # fmt: skip
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    offending.refresh_from_db()
    assert offending.deleted_at is not None and offending.body == ""
    assert owner.get("/api/v1/channels/ops/reports?state=open").json() == []
    actions = [a for a in _actions() if a != "user.created"]
    assert actions[-3:] == ["report.filed", "message.deleted_by_moderator", "report.resolved"]
    assert SECRET_TEXT not in json.dumps(list(AuditEvent.objects.values_list("data", flat=True)))
    assert Message.objects.filter(pk=offending.pk, deleted_at__isnull=False).exists()


@pytest.mark.django_db
def test_verify_audit_reports_an_intact_chain_after_moderation(world: World) -> None:
    _json(api_client(world.owner), "post", "/api/v1/channels/ops/bans", {"username": "oscar"})
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "Audit chain intact" in out.getvalue()
