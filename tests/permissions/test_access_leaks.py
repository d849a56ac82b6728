"""The leaks that copies of the access rules let through, each stopped by the one rule in
permissions/access.py: reading by id with `since_join`, the one set of current members,
and the lapse check in the guards that are not about one channel.

A member "before joining" is a member of a since_join channel looking at something dated
before their institution's admission: they may read the channel, not that (SPEC §3).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from channels_app.e2ee import X25519Identity
from channels_app.models import (
    Attachment,
    Channel,
    Document,
    HistoryVisibility,
    Message,
    Report,
)
from channels_app.moderation.selectors import bannable_users
from exchange.kernel.errors import Forbidden
from permissions.access import (
    channel_access,
    current_members,
    readable_channels,
    readable_since,
)
from permissions.membership.services import ban_create
from permissions.models import Admission, Institution, User
from permissions.people.services import user_set_active
from tests import factories
from tests.conftest import World, api_client
from tests.e2ee_clients import Member
from tests.signing_in import signed_in

pytestmark = pytest.mark.django_db

MISSING = 999_999


def since_join(world: World) -> None:
    """Make the channel since_join, every institution admitted an hour ago."""
    Channel.objects.filter(pk=world.channel.pk).update(
        history_visibility=HistoryVisibility.SINCE_JOIN
    )
    Admission.objects.filter(channel=world.channel).update(
        created_at=timezone.now() - timedelta(hours=1)
    )


def joined_now(institution: Institution) -> None:
    """The institution's admission dates from now: whatever is older predates it."""
    Admission.objects.filter(institution=institution).update(created_at=timezone.now())


def dated(obj: Message | Document | Attachment, minutes: int) -> None:
    """Date `obj` `minutes` from now (negative: before)."""
    type(obj).objects.filter(pk=obj.pk).update(
        created_at=timezone.now() + timedelta(minutes=minutes)
    )


def lapse(user: User) -> None:
    days = settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS + 1
    User.objects.filter(pk=user.pk).update(certified_at=timezone.now() - timedelta(days=days))


def answer(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json()


def as_json(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return getattr(client, method)(path, body or {}, content_type="application/json")


@pytest.fixture
def old_message(world: World) -> Message:
    """A message of the since_join channel sent before the observers' institution joined."""
    since_join(world)
    message = factories.post(world.member, world.channel, "sent before they joined")
    dated(message, -5)
    joined_now(world.observer_institution)
    return message


# --- one by-id rule --------------------------------------------------------------------


def test_a_member_cannot_report_a_message_sent_before_their_institution_joined(
    world: World, old_message: Message
) -> None:
    client = api_client(world.observer)
    path = "/api/v1/messages/{}/reports"
    leaked = as_json(client, "post", path.format(old_message.pk), {"reason": "spam"})
    missing = as_json(client, "post", path.format(MISSING), {"reason": "spam"})
    assert answer(leaked) == answer(missing)
    assert leaked.status_code == 404
    assert not Report.objects.exists()
    # A message sent since they joined they may report.
    recent = factories.post(world.member, world.channel, "sent since")
    assert as_json(client, "post", path.format(recent.pk), {"reason": "spam"}).status_code == 201


def test_a_member_cannot_learn_by_editing_or_deleting_that_an_older_message_exists(
    world: World, old_message: Message
) -> None:
    """Told 404 as for no such message, not the observer's 403 ("you may only read"):
    the 403 is for what a reader may see and lacks the role to change."""
    client = api_client(world.observer)
    for method, body in (("patch", {"body": "changed"}), ("delete", None)):
        leaked = as_json(client, method, f"/api/v1/messages/{old_message.pk}", body)
        missing = as_json(client, method, f"/api/v1/messages/{MISSING}", body)
        assert answer(leaked) == answer(missing), method
        assert leaked.status_code == 404
    recent = factories.post(world.member, world.channel, "sent since")
    assert as_json(client, "delete", f"/api/v1/messages/{recent.pk}").status_code == 403
    old_message.refresh_from_db()
    assert old_message.body == "sent before they joined" and old_message.deleted_at is None


def test_a_member_cannot_reply_to_a_message_sent_before_their_institution_joined(
    world: World,
) -> None:
    """Answered exactly as a parent that does not exist (400 on `parent`), not 201."""
    since_join(world)
    old = factories.post(world.member, world.channel, "sent before they joined")
    dated(old, -5)
    late = factories.make_institution("late-joiners")
    factories.admit(world.channel, late, "participant")
    joined_now(late)
    client = api_client(factories.make_user("lena", institution=late))

    def reply(parent: int) -> Any:
        body = {"body": "re", "client_id": str(uuid.uuid4()), "parent": parent}
        return as_json(client, "post", f"/api/v1/channels/{world.channel.slug}/messages", body)

    leaked, missing = reply(old.pk), reply(MISSING)
    assert answer(leaked) == answer(missing)
    assert leaked.status_code == 400 and leaked.json()["error"]["field"] == "parent"
    assert not Message.objects.filter(parent=old).exists()
    recent = factories.post(world.member, world.channel, "sent since")
    assert reply(recent.pk).status_code == 201


def test_a_member_cannot_fetch_the_attachment_of_a_message_sent_before_they_joined(
    world: World,
) -> None:
    since_join(world)
    attachment = factories.bare_attachment(world.channel, world.member)
    message = factories.post(world.member, world.channel, attachments=[attachment.pk])
    dated(message, -5)
    joined_now(world.observer_institution)
    client = api_client(world.observer)
    for suffix in ("", "/meta"):
        leaked = client.get(f"/api/v1/attachments/{attachment.pk}{suffix}")
        missing = client.get(f"/api/v1/attachments/{MISSING}{suffix}")
        assert answer(leaked) == answer(missing), suffix
        assert leaked.status_code == 404
    assert (
        api_client(world.member).get(f"/api/v1/attachments/{attachment.pk}/meta").status_code == 200
    )


def test_an_attachment_is_as_old_as_what_carries_it(world: World) -> None:
    """A file uploaded before the reader joined, sent since in a message, is theirs to
    read; the versions of a document added before they joined are not, even one uploaded
    since; a file nothing carries yet is as old as its upload."""
    since_join(world)
    joined_now(world.observer_institution)
    uploaded_early = factories.bare_attachment(world.channel, world.member)
    dated(uploaded_early, -5)
    factories.post(world.member, world.channel, attachments=[uploaded_early.pk])
    old_document = factories.make_document(world.member, world.channel)
    dated(old_document, -5)
    later_version = factories.bare_attachment(world.channel, world.member)
    response = as_json(
        api_client(world.member),
        "post",
        f"/api/v1/documents/{old_document.pk}/versions",
        {"attachment": later_version.pk},
    )
    assert response.status_code == 201, response.content
    loose_old = factories.bare_attachment(world.channel, world.member)
    dated(loose_old, -5)
    loose_new = factories.bare_attachment(world.channel, world.member)
    client = api_client(world.observer)

    def status(attachment: Attachment) -> int:
        return int(client.get(f"/api/v1/attachments/{attachment.pk}/meta").status_code)

    assert status(uploaded_early) == 200
    assert status(later_version) == 404
    assert status(loose_old) == 404
    assert status(loose_new) == 200


def test_a_member_cannot_reach_a_document_added_before_they_joined_by_any_route(
    world: World,
) -> None:
    since_join(world)
    document = factories.make_document(world.member, world.channel)
    dated(document, -5)
    joined_now(world.observer_institution)
    client = api_client(world.observer)
    version = {"attachment": factories.bare_attachment(world.channel, world.observer).pk}
    for method, suffix, body in (
        ("get", "", None),
        ("get", "/evaluations", None),
        ("patch", "", {"title": "Renamed"}),
        ("post", "/versions", version),
    ):
        leaked = as_json(client, method, f"/api/v1/documents/{document.pk}{suffix}", body)
        missing = as_json(client, method, f"/api/v1/documents/{MISSING}{suffix}", body)
        assert answer(leaked) == answer(missing), (method, suffix)
        assert leaked.status_code == 404


def test_the_library_across_channels_dates_each_channel_as_the_by_id_rule_does(
    world: World,
) -> None:
    """readable_channels (the library's one query) answers each channel's `since_join`
    date exactly as readable_since (the by-id rule) does, for every kind of reader."""
    since_join(world)
    joined_now(world.observer_institution)
    open_channel = factories.make_channel("open")
    factories.admit(open_channel, world.observer_institution, "observer")
    for user in (world.owner, world.member, world.observer, world.outsider):
        found = {r.access.channel.pk: r.since for r in readable_channels(user)}
        for channel in (world.channel, open_channel):
            access = channel_access(user, channel)
            expected = readable_since(access) if access.can_read else "unreadable"
            assert found.get(channel.pk, "unreadable") == expected, (user.username, channel.slug)


def test_no_search_word_finds_a_document_added_before_the_reader_joined(world: World) -> None:
    """Search, the filters and the per-channel list alike: a word of an older document's
    title, tag or summary finds nothing for a member who joined since, and finds it for
    one who was there (SPEC §3: items, counts and search results alike)."""
    since_join(world)
    old = factories.make_document(
        world.member, world.channel, title="Nightjar", summary="informant", tags=["nightjar"]
    )
    dated(old, -5)
    joined_now(world.observer_institution)
    observer, member = api_client(world.observer), api_client(world.member)
    for query in ({"q": "nightjar"}, {"q": "informant"}, {"tag": "nightjar"}, {}):
        for path in ("/api/v1/documents", "/api/v1/channels/ops/documents"):
            assert observer.get(path, query).json() == [], (path, query)
            assert [d["id"] for d in member.get(path, query).json()] == [old.pk], (path, query)


# --- one set of current members ------------------------------------------------------


def test_starting_an_epoch_demands_no_key_share_for_a_lapsed_member(world: World) -> None:
    """The shares cover the members who hold access now: a lapsed user holds none, so a
    share for them is unexpected and none is missing without one (SPEC §3, epochs)."""
    people = {who: getattr(world, who) for who in ("owner", "member", "observer")}
    clients = {who: Member(u.username, api_client(u)) for who, u in people.items()}
    for m in clients.values():
        m.register()
    lapse(world.observer)
    starter = clients["owner"]
    starter.epochs[1] = epoch = X25519Identity.generate()

    def start(*usernames: str) -> Any:
        shares = [
            {
                "username": m.username,
                "ciphertext": starter.share_for(m.identity.recipient.to_string(), "ops", 1),
            }
            for m in clients.values()
            if m.username in usernames
        ]
        payload = {"number": 1, "public_key": epoch.recipient.to_string(), "shares": shares}
        return as_json(starter.client, "post", "/api/v1/channels/ops/epochs", payload)

    refused = start("olivia", "mateo", "oscar")
    assert refused.status_code == 409
    assert refused.json()["error"]["unexpected"] == ["oscar"]
    assert refused.json()["error"]["missing"] == []
    assert start("olivia", "mateo").status_code == 201


def test_the_members_list_leaves_out_a_lapsed_user(world: World) -> None:
    lapse(world.member)
    listed = api_client(world.owner).get("/api/v1/channels/ops/members").json()
    assert [m["username"] for m in listed] == ["olivia", "oscar"]
    assert {m["username"]: m["role"] for m in listed} == {
        "olivia": "moderator",
        "oscar": "observer",
    }


def test_a_ban_is_not_offered_against_someone_who_holds_no_access(world: World) -> None:
    """bannable_users is the current members but the moderators: not the lapsed, the
    inactive, the banned, nor the users of an inactive institution."""
    lapse(world.member)
    banned = factories.make_user("bruno", institution=world.participant_institution)
    ban_create(actor=None, channel=world.channel, user=banned)
    kept = factories.make_user("nina", institution=world.participant_institution)
    gone = factories.make_user("gone", institution=world.participant_institution)
    user_set_active(actor=None, user=gone, active=False)
    assert [u.username for u in bannable_users(world.channel)] == ["nina", "oscar"]
    assert {u.username for u in current_members(world.channel)} == {"nina", "olivia", "oscar"}
    assert kept.is_active


# --- lapse checked where the guard is not about one channel --------------------------


def test_a_lapsed_moderator_cannot_read_the_audit_log(world: World) -> None:
    """Refused from the moment they lapse (API and page), not from the daily sweep."""
    api = api_client(world.owner)
    page = signed_in(world.owner)
    assert api.get("/api/v1/audit?channel=ops").status_code == 200
    assert page.get("/audit/").status_code == 200
    lapse(world.owner)
    assert api.get("/api/v1/audit?channel=ops").status_code == 403
    assert api.get("/api/v1/audit/verify").status_code == 403
    assert page.get("/audit/").status_code == 403


def test_a_lapsed_platform_admin_cannot_read_the_audit_log(world: World) -> None:
    admin = factories.make_user("ada", institution=world.participant_institution, is_staff=True)
    api = api_client(admin)
    assert api.get("/api/v1/audit").status_code == 200
    lapse(admin)
    assert api.get("/api/v1/audit").status_code == 403


@pytest.mark.parametrize("standing", ["inactive", "lapsed"])
def test_a_focal_point_out_of_good_standing_cannot_deactivate_a_user_of_their_institution(
    world: World, standing: str
) -> None:
    focal = factories.make_user(
        "fiona", institution=world.participant_institution, is_focal_point=True
    )
    route = api_client(focal)  # the token is issued while they are in good standing
    if standing == "inactive":
        User.objects.filter(pk=focal.pk).update(is_active=False)
    else:
        lapse(focal)
    focal = User.objects.select_related("institution").get(pk=focal.pk)
    target = User.objects.get(pk=world.member.pk)
    with pytest.raises(Forbidden):
        user_set_active(actor=focal, user=target, active=False)
    response = route.post("/api/v1/institutions/guardia-civil/users/mateo/deactivate")
    assert response.status_code == (401 if standing == "inactive" else 403)
    assert User.objects.get(pk=world.member.pk).is_active


def test_a_focal_point_in_good_standing_deactivates_a_user_of_their_institution(
    world: World,
) -> None:
    focal = factories.make_user(
        "fiona", institution=world.participant_institution, is_focal_point=True
    )
    user_set_active(actor=focal, user=User.objects.get(pk=world.member.pk), active=False)
    assert not User.objects.get(pk=world.member.pk).is_active
