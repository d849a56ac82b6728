"""The library across channels (SPEC §3 1.1: GET /documents, DELETE /documents/{id},
`downloads`), and the message that announces a new document in its channel: who sees
what, every filter, both orders and their cursors, a constant number of queries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from channels_app.evaluations.pair import Evaluation
from channels_app.models import (
    Attachment,
    Channel,
    Document,
    DocumentDownload,
    HistoryVisibility,
    Message,
    Theme,
)
from permissions.membership.services import admission_remove, ban_create
from permissions.models import Admission, User
from tests import factories
from tests.conftest import World, api_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def colleague(world: World) -> User:
    return factories.make_user("gabriel", institution=world.participant_institution)


@pytest.fixture
def stranger(world: World) -> User:
    """A participant of another participant institution."""
    institution = factories.make_institution("policia-nacional", country="ES")
    factories.admit(world.channel, institution, "participant")
    return factories.make_user("pedro", institution=institution)


@pytest.fixture
def second_channel(world: World) -> Channel:
    """A penitentiary channel the participants and the outsiders read, the observers not."""
    channel = factories.make_channel("prisons", theme=Theme.PENITENTIARY)
    factories.admit(channel, world.participant_institution, "participant")
    factories.admit(channel, world.outsider_institution, "participant")
    return channel


def library(user: User | None, **query: Any) -> Any:
    return api_client(user).get("/api/v1/documents", query)


def ids(user: User | None, **query: Any) -> list[int]:
    response = library(user, **query)
    assert response.status_code == 200, response.content
    return [d["id"] for d in response.json()]


def doc(world: World, channel: Channel | None = None, author: User | None = None, **f: Any) -> Any:
    return factories.make_document(author or world.member, channel or world.channel, **f)


# --- who sees what ----------------------------------------------------------------------


def test_the_library_holds_every_channel_the_caller_reads_and_nothing_else(
    world: World, second_channel: Channel
) -> None:
    in_ops = doc(world)
    in_prisons = doc(world, second_channel)
    elsewhere = factories.make_channel("elsewhere")
    factories.admit(elsewhere, world.outsider_institution, "participant")
    hidden = doc(
        world, elsewhere, factories.make_user("ines", institution=world.outsider_institution)
    )
    assert ids(world.member) == [in_prisons.pk, in_ops.pk]
    assert ids(world.owner) == [in_prisons.pk, in_ops.pk]
    assert ids(world.observer) == [in_ops.pk]
    assert ids(world.outsider) == [hidden.pk, in_prisons.pk]
    assert library(None).status_code == 401
    item = library(world.member).json()[0]
    assert item["channel"] == "prisons" and item["downloads"] == 0
    assert [v["number"] for v in item["versions"]] == [1] and item["snippet"] is None


def test_banned_lapsed_removed_and_inactive_users_see_nothing_of_the_library(
    world: World, settings: Any
) -> None:
    doc(world)
    banned = factories.make_user("bruno", institution=world.participant_institution)
    ban_create(actor=None, channel=world.channel, user=banned)
    lapsed = factories.make_user("lars", institution=world.participant_institution)
    days = settings.RECERTIFY_DAYS + settings.RECERTIFY_GRACE_DAYS + 1
    User.objects.filter(pk=lapsed.pk).update(certified_at=timezone.now() - timedelta(days=days))
    assert ids(banned) == []
    assert ids(lapsed) == []
    assert ids(world.observer) != []
    admission_remove(actor=None, channel=world.channel, institution=world.observer_institution)
    assert ids(world.observer) == []
    world.participant_institution.active = False
    world.participant_institution.save()
    assert ids(world.member) == []


def test_a_since_join_channel_shows_the_library_only_from_the_institutions_admission(
    world: World,
) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(
        history_visibility=HistoryVisibility.SINCE_JOIN
    )
    old = doc(world, title="Before")
    Document.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    Admission.objects.filter(channel=world.channel).update(
        created_at=timezone.now() - timedelta(minutes=1)
    )
    new = doc(world, title="After")
    assert ids(world.observer) == [new.pk]
    assert ids(world.observer, q="before") == []
    assert ids(world.observer, channel="ops") == [new.pk]
    assert ids(world.owner) == [new.pk, old.pk]  # moderators see all


def test_a_channel_or_theme_the_caller_may_not_read_finds_nothing_as_an_unknown_one(
    world: World, second_channel: Channel
) -> None:
    doc(world, second_channel)
    assert ids(world.observer, channel="prisons") == []
    assert ids(world.observer, channel="no-such-channel") == []
    assert ids(world.observer, theme="penitentiary") == []
    assert len(ids(world.member, theme="penitentiary")) == 1


# --- filters and orders ------------------------------------------------------------------


def test_every_filter_narrows_the_library(
    world: World, second_channel: Channel, stranger: User
) -> None:
    first = doc(world, tags=["ports"], language="es", evaluation=Evaluation("B", 2))
    second = doc(world, second_channel, language="pt", evaluation=Evaluation("A", 1))
    third = doc(world, author=stranger, handling_code="TLP:GREEN", evaluation=Evaluation("A", 3))
    assert ids(world.member) == [third.pk, second.pk, first.pk]
    assert ids(world.member, channel="ops") == [third.pk, first.pk]
    assert ids(world.member, theme="penitentiary") == [second.pk]
    assert ids(world.member, tag="PORTS") == [first.pk]
    assert ids(world.member, language="pt") == [second.pk]
    assert ids(world.member, institution="policia-nacional") == [third.pk]
    assert ids(world.member, handling_code="TLP:GREEN") == [third.pk]
    assert ids(world.member, evaluation="B2") == [first.pk]
    assert ids(world.member, evaluation="A") == [third.pk, second.pk]
    assert ids(world.member, evaluation="A1") == [second.pk]
    assert ids(world.member, evaluation="X") == []
    assert ids(world.member, evaluation="A", channel="ops", handling_code="TLP:GREEN") == [third.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"evaluation": "D"}, "evaluation"),
        ({"evaluation": "B5"}, "evaluation"),
        ({"evaluation": "b2"}, "evaluation"),
        ({"evaluation": ""}, "evaluation"),
        ({"theme": "drugs"}, "theme"),
        ({"channel": ""}, "channel"),
        ({"channel": "a\x00b"}, "channel"),
        ({"order": "oldest"}, "order"),
        ({"before": "x"}, "before"),
        ({"before": "0"}, "before"),
        ({"before": "3:4"}, "before"),
        ({"order": "downloads", "before": "4"}, "before"),
        ({"order": "downloads", "before": "a:4"}, "before"),
        ({"order": "downloads", "before": ":"}, "before"),
        ({"order": "downloads", "before": "٣:4"}, "before"),
        ({"limit": "201"}, "limit"),
        ({"q": ""}, "q"),
        ({"tag": "a b"}, "tag"),
    ],
)
def test_a_bad_library_filter_is_a_400_naming_it(
    world: World, query: dict[str, str], field: str
) -> None:
    response = library(world.member, **query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field


def downloaded_by(document: Document, *users: User) -> None:
    DocumentDownload.objects.filter(document=document).delete()
    for user in users:
        DocumentDownload.objects.create(document=document, user=user)
    Document.objects.filter(pk=document.pk).update(downloads=len(users))


def test_most_downloaded_first_pages_stably_with_the_count_and_id_cursor(
    world: World, colleague: User, stranger: User
) -> None:
    docs = [doc(world, title=f"Lesson {i}") for i in range(5)]
    downloaded_by(docs[1], world.member, colleague, stranger)
    downloaded_by(docs[3], world.member)
    downloaded_by(docs[4], world.member)
    everything = ids(world.member, order="downloads")
    assert everything == [docs[1].pk, docs[4].pk, docs[3].pk, docs[2].pk, docs[0].pk]
    first = library(world.member, order="downloads", limit=2).json()
    assert [d["id"] for d in first] == everything[:2]
    cursor = f"{first[-1]['downloads']}:{first[-1]['id']}"
    # The boundary document's count moves between two pages: the page still starts
    # right after where the last one ended.
    downloaded_by(docs[4], world.member, colleague, stranger, world.owner)
    rest = ids(world.member, order="downloads", before=cursor, limit=10)
    assert rest == everything[2:]
    newest = ids(world.member, before=str(docs[3].pk), limit=2)
    assert newest == [docs[2].pk, docs[1].pk]


def test_the_library_takes_the_same_number_of_queries_for_three_documents_or_thirty(
    world: World, second_channel: Channel, colleague: User
) -> None:
    def count(**query: Any) -> int:
        client = api_client(world.member)
        client.get("/api/v1/documents", query)  # sign-in caches warmed
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/documents", query).status_code == 200
        return len(queries)

    for i in range(3):
        doc(world, tags=["a", "b"], evaluation=Evaluation("B", 2), title=f"Lesson {i}")
    few = {order: count(order=order) for order in ("newest", "downloads")}
    filtered_few = count(evaluation="B", tag="a", q="lesson")
    for i in range(27):
        channel = second_channel if i % 2 else world.channel
        document = doc(world, channel, tags=["a", "b"], title=f"Lesson {i}")
        factories.make_document(colleague, channel, title="Another")
        Document.objects.filter(pk=document.pk).update(source_reliability="B")
    assert {order: count(order=order) for order in ("newest", "downloads")} == few
    assert count(evaluation="B", tag="a", q="lesson") == filtered_few


# --- withdrawing ---------------------------------------------------------------------------


def withdraw(user: User | None, document_id: int) -> Any:
    return api_client(user).delete(f"/api/v1/documents/{document_id}")


def test_the_author_a_colleague_or_a_moderator_withdraws_and_lists_omit_it(
    world: World, colleague: User
) -> None:
    for who in (world.member, colleague, world.owner):
        document = doc(world)
        response = withdraw(who, document.pk)
        assert response.status_code == 200, response.content
        assert response.json()["withdrawn_at"] is not None
        assert ids(world.member) == []
        assert api_client(world.member).get("/api/v1/channels/ops/documents").json() == []
        shown = api_client(world.observer).get(f"/api/v1/documents/{document.pk}")
        assert shown.status_code == 200 and shown.json()["withdrawn_at"] is not None
    events = AuditEvent.objects.filter(action="document.withdrawn").order_by("seq")
    assert [e.actor_id for e in events] == [world.member.pk, colleague.pk, world.owner.pk]


def test_others_may_not_withdraw_and_a_hidden_document_is_a_404(
    world: World, stranger: User
) -> None:
    document = doc(world)
    assert withdraw(stranger, document.pk).status_code == 403
    assert withdraw(world.observer, document.pk).status_code == 403
    assert withdraw(world.outsider, document.pk).json() == withdraw(world.outsider, 999_999).json()
    assert withdraw(world.outsider, document.pk).status_code == 404
    assert withdraw(None, document.pk).status_code == 401
    assert Document.objects.get(pk=document.pk).withdrawn_at is None
    assert not AuditEvent.objects.filter(action="document.withdrawn").exists()


def test_a_withdrawn_document_takes_no_change_and_withdrawing_again_changes_nothing(
    world: World,
) -> None:
    document = doc(world)
    first = withdraw(world.member, document.pk).json()["withdrawn_at"]
    assert withdraw(world.member, document.pk).json()["withdrawn_at"] == first
    assert AuditEvent.objects.filter(action="document.withdrawn").count() == 1
    client = api_client(world.member)
    patched = client.patch(
        f"/api/v1/documents/{document.pk}", {"title": "x"}, content_type="application/json"
    )
    assert patched.status_code == 409
    attachment = factories.bare_attachment(world.channel, world.member).pk
    versioned = client.post(
        f"/api/v1/documents/{document.pk}/versions",
        {"attachment": attachment},
        content_type="application/json",
    )
    assert versioned.status_code == 409


# --- downloads -----------------------------------------------------------------------------


def stored_attachment(world: World, size: int) -> Attachment:
    attachment = factories.bare_attachment(world.channel, world.member)
    name = default_storage.save(attachment.storage_name, ContentFile(b"x" * size))
    Attachment.objects.filter(pk=attachment.pk).update(storage_name=name, size=size)
    return Attachment.objects.get(pk=attachment.pk)


def fetch(user: User, attachment_id: int, *, chunks: int | None = None) -> int:
    """GET /attachments/{id} read as the server streams it: all of it, or `chunks`."""
    response = api_client(user).get(f"/api/v1/attachments/{attachment_id}")
    assert response.status_code == 200

    async def read() -> int:
        got, taken = 0, 0
        stream = response.streaming_content
        async for chunk in stream:
            got, taken = got + len(chunk), taken + 1
            if taken == chunks:
                await stream.aclose()  # the client went away
                break
        return got

    return int(async_to_sync(read)())


def test_downloads_count_distinct_users_who_fetched_a_version_in_full(
    world: World, colleague: User
) -> None:
    first = stored_attachment(world, 1000)
    document = factories.make_document(world.member, world.channel)
    document.versions.filter(number=1).update(attachment=first)
    assert fetch(world.observer, first.pk) == 1000
    assert fetch(world.observer, first.pk) == 1000  # the same user again: still one
    assert fetch(colleague, first.pk) == 1000
    stored = Document.objects.get(pk=document.pk)
    assert stored.downloads == 2
    assert DocumentDownload.objects.filter(document=document).count() == 2
    assert api_client(world.member).get(f"/api/v1/documents/{document.pk}").json()["downloads"] == 2


def test_a_download_stopped_before_the_last_byte_is_not_counted(world: World) -> None:
    big = stored_attachment(world, 600 * 1024)  # three chunks of 256 KiB
    document = factories.make_document(world.member, world.channel)
    document.versions.filter(number=1).update(attachment=big)
    assert fetch(world.observer, big.pk, chunks=1) == 256 * 1024
    assert Document.objects.get(pk=document.pk).downloads == 0
    assert fetch(world.observer, big.pk) == 600 * 1024
    assert Document.objects.get(pk=document.pk).downloads == 1


def test_an_attachment_no_version_carries_counts_for_no_document(world: World) -> None:
    loose = stored_attachment(world, 10)
    factories.make_document(world.member, world.channel)
    assert fetch(world.observer, loose.pk) == 10
    assert not DocumentDownload.objects.exists()


# --- the announcement in the channel -----------------------------------------------------


def test_adding_a_document_posts_a_message_that_links_to_it(world: World) -> None:
    document = doc(world, title="Seizing [servers] *abroad*", handling_code="TLP:GREEN")
    message = Message.objects.get(pk=document.message_id)
    assert message.channel_id == world.channel.pk and message.author_id == world.member.pk
    assert message.handling_code == "TLP:GREEN"
    assert f'href="/c/ops/library/{document.pk}/"' in message.html
    assert "Seizing [servers] *abroad*" in message.html and "<em>" not in message.html
    listed = api_client(world.observer).get("/api/v1/channels/ops/messages").json()
    assert [m["id"] for m in listed] == [message.pk]
    body = api_client(world.observer).get(f"/api/v1/documents/{document.pk}").json()
    assert body["message"] == message.pk
