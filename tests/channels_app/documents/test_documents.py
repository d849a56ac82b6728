"""The lessons-learned library (SPEC §2 "Document", §3 documents routes): who may read,
add and version documents, what a document may hold, its filters, its evaluation, and
what the audit log keeps of it (ids and codes, never the title or the summary)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from channels_app.documents.services import document_version_add
from channels_app.evaluations.pair import Evaluation
from channels_app.models import (
    Attachment,
    Channel,
    Document,
    DocumentTag,
    DocumentVersion,
    EvaluationChange,
    HandlingCode,
    HistoryVisibility,
)
from exchange.kernel.errors import BadRequest
from permissions.models import Admission, User
from tests import factories
from tests.conftest import World, api_client
from tests.e2ee_clients import Member

pytestmark = pytest.mark.django_db

B2 = {"source_reliability": "B", "information_assessment": 2}
C3 = {"source_reliability": "C", "information_assessment": 3}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def colleague(world: World) -> User:
    """Another participant of the participant institution (not a moderator)."""
    return factories.make_user("gabriel", institution=world.participant_institution)


@pytest.fixture
def stranger(world: World) -> User:
    """A participant of another participant institution."""
    institution = factories.make_institution("policia-nacional", country="ES")
    factories.admit(world.channel, institution, "participant")
    return factories.make_user("pedro", institution=institution)


@pytest.fixture
def members(world: World, colleague: User, stranger: User) -> dict[str, Member]:
    """Devices with the channel's epoch 1: uploads are real age files (SPEC §5)."""
    people = {
        "owner": world.owner,
        "member": world.member,
        "observer": world.observer,
        "colleague": colleague,
        "stranger": stranger,
    }
    found = {who: Member(user.username, api_client(user)) for who, user in people.items()}
    for m in found.values():
        m.register()
    assert found["member"].start_epoch(world.channel.slug, 1).status_code == 201
    for m in found.values():
        m.fetch_share(world.channel.slug, 1)
    return found


def upload(members: dict[str, Member], who: str, content: bytes = b"lessons") -> int:
    response = members[who].upload("ops", 1, content)
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def add(user: User | None, body: dict[str, Any], slug: str = "ops") -> Any:
    return api_client(user).post(
        f"/api/v1/channels/{slug}/documents", body, content_type="application/json"
    )


def draft(attachment: int, **extra: Any) -> dict[str, Any]:
    return {"title": "Seizing servers abroad", "language": "es", "attachment": attachment, **extra}


def add_version(user: User | None, document_id: int, body: dict[str, Any]) -> Any:
    return api_client(user).post(
        f"/api/v1/documents/{document_id}/versions", body, content_type="application/json"
    )


def listing(user: User | None, query: str = "", slug: str = "ops") -> Any:
    return api_client(user).get(f"/api/v1/channels/{slug}/documents{query}")


def quick_document(world: World, author: User | None = None, **fields: Any) -> Document:
    return factories.make_document(author or world.member, world.channel, **fields)


def nothing_stored() -> bool:
    return (
        not Document.objects.exists()
        and not DocumentVersion.objects.exists()
        and not DocumentTag.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="document.").exists()
    )


# --- adding ---------------------------------------------------------------------------


def test_a_participant_adds_a_document_with_every_optional_field(
    world: World, members: dict[str, Member]
) -> None:
    attachment = upload(members, "member")
    response = add(
        world.member,
        draft(
            attachment,
            summary="Use *mutual legal assistance* first.",
            tags=["mla", "cloud-evidence"],
            handling_code="TLP:GREEN",
            note="first draft",
            evaluation=B2,
        ),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "id", "channel", "title", "summary", "summary_html", "tags", "language",
        "institution", "handling_code", "author", "created_at", "updated_at", "evaluation",
        "versions", "downloads", "message", "withdrawn_at",
    }  # fmt: skip
    assert (body["downloads"], body["withdrawn_at"]) == (0, None)
    assert isinstance(body["message"], int)
    assert body["channel"] == "ops" and body["title"] == "Seizing servers abroad"
    assert body["summary_html"] == "<p>Use <em>mutual legal assistance</em> first.</p>\n"
    assert body["tags"] == ["cloud-evidence", "mla"]
    assert body["language"] == "es" and body["handling_code"] == "TLP:GREEN"
    assert body["institution"] == {
        "slug": "guardia-civil",
        "name": "Guardia Civil",
        "country": "ES",
    }
    assert body["author"]["username"] == "mateo"
    assert body["author"]["institution"]["slug"] == "guardia-civil"
    assert body["evaluation"] == B2
    (version,) = body["versions"]
    stored = Attachment.objects.get(pk=attachment)
    assert version["number"] == 1 and version["note"] == "first draft"
    assert version["attachment"] == {
        "id": attachment, "size": stored.size, "sha256": stored.sha256, "epoch": 1,
    }  # fmt: skip
    assert version["author"]["username"] == "mateo"
    assert api_client(world.observer).get(f"/api/v1/documents/{body['id']}").json() == body


def test_a_document_needs_only_a_title_a_language_and_an_attachment(
    world: World, members: dict[str, Member]
) -> None:
    response = add(world.owner, draft(upload(members, "owner")))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["summary"], body["summary_html"], body["tags"]) == ("", "", [])
    assert body["handling_code"] == "TLP:AMBER" and body["evaluation"] is None
    assert body["versions"][0]["note"] == ""
    assert not EvaluationChange.objects.exists()


def test_observers_outsiders_and_strangers_to_an_unlisted_channel_may_not_add(
    world: World,
) -> None:
    for user, status in ((world.observer, 403), (world.outsider, 403), (None, 401)):
        attachment = factories.bare_attachment(world.channel, world.member).pk
        assert add(user, draft(attachment)).status_code == status
    Channel.objects.filter(pk=world.channel.pk).update(listed=False)
    assert add(world.outsider, draft(1)).status_code == 404
    assert nothing_stored()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "report\u202egnp.exe"}, "title"),
        ({"title": "zero\u200bwidth"}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"title": 5}, "title"),
        ({"summary": "x" * 10_001}, "summary"),
        ({"summary": "nul\x00"}, "summary"),
        ({"tags": ["up\u202eper"]}, "tags"),
        ({"tags": ["x" * 41]}, "tags"),
        ({"tags": ["a b"]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["twice", "twice"]}, "tags"),
        ({"language": "xx"}, "language"),
        ({"language": "EN"}, "language"),
        ({"language": "eng"}, "language"),
        ({"handling_code": "TLP:WHITE"}, "handling_code"),
        ({"handling_code": "TLP:RED"}, "handling_code"),
        ({"note": "x" * 501}, "note"),
        ({"evaluation": {"source_reliability": "D", "information_assessment": 2}}, "evaluation"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    world: World, change: dict[str, Any], field: str
) -> None:
    attachment = factories.bare_attachment(world.channel, world.member)
    response = add(world.member, {**draft(attachment.pk), **change})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"].split(".")[0] == field
    assert nothing_stored()


def test_the_channel_maximum_handling_code_holds_for_documents_as_for_messages(
    world: World,
) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(max_handling_code=HandlingCode.GREEN)
    refused = add(world.member, draft(factories.bare_attachment(world.channel, world.member).pk))
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "handling_code"
    assert "TLP:GREEN" in refused.json()["error"]["message"]
    accepted = add(
        world.member,
        draft(factories.bare_attachment(world.channel, world.member).pk, handling_code="TLP:CLEAR"),
    )
    assert accepted.status_code == 201


def test_an_archived_channel_takes_no_new_document(world: World) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(archived=True)
    response = add(world.member, draft(factories.bare_attachment(world.channel, world.member).pk))
    assert response.status_code == 409
    assert nothing_stored()


# --- the attachment rules -------------------------------------------------------------


def test_a_document_carries_only_its_authors_free_upload_to_its_channel(
    world: World, members: dict[str, Member]
) -> None:
    other = factories.make_channel("elsewhere")
    factories.admit(other, world.participant_institution, "participant")
    elsewhere = factories.bare_attachment(other, world.member).pk
    someone_elses = upload(members, "owner")
    on_a_message = upload(members, "member")
    factories.post(world.member, world.channel, "see attached", attachments=[on_a_message])
    for attachment in (elsewhere, someone_elses, on_a_message, 999_999):
        response = add(world.member, draft(attachment))
        assert response.status_code == 400, response.content
        assert response.json()["error"]["field"] == "attachment"
    assert nothing_stored()
    on_a_version = upload(members, "member")
    assert add(world.member, draft(on_a_version)).status_code == 201
    again = add(world.member, draft(on_a_version, title="Again"))
    assert again.status_code == 400 and again.json()["error"]["field"] == "attachment"
    assert Document.objects.count() == 1


def test_a_message_may_not_carry_an_attachment_a_version_carries(
    world: World, members: dict[str, Member]
) -> None:
    attachment = upload(members, "member")
    assert add(world.member, draft(attachment)).status_code == 201
    response = api_client(world.member).post(
        "/api/v1/channels/ops/messages",
        {"client_id": str(uuid.uuid4()), "body": "here", "attachments": [attachment]},
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "attachments"
    assert Attachment.objects.get(pk=attachment).message_id is None


# --- versions -------------------------------------------------------------------------


def test_versions_are_numbered_by_document_and_added_by_those_allowed(
    world: World, members: dict[str, Member], colleague: User, stranger: User
) -> None:
    document_id = add(world.member, draft(upload(members, "member"))).json()["id"]
    other_id = add(world.member, draft(upload(members, "member"), title="Other")).json()["id"]
    before = Document.objects.get(pk=document_id).updated_at

    by_author = add_version(world.member, document_id, {"attachment": upload(members, "member")})
    assert by_author.status_code == 201, by_author.content
    by_colleague = add_version(
        colleague, document_id, {"attachment": upload(members, "colleague"), "note": "typos"}
    )
    assert by_colleague.status_code == 201, by_colleague.content
    by_moderator = add_version(world.owner, other_id, {"attachment": upload(members, "owner")})
    assert by_moderator.status_code == 201

    versions = by_colleague.json()["versions"]
    assert [(v["number"], v["author"]["username"], v["note"]) for v in versions] == [
        (1, "mateo", ""), (2, "mateo", ""), (3, "gabriel", "typos"),
    ]  # fmt: skip
    assert [v["number"] for v in by_moderator.json()["versions"]] == [1, 2]
    assert Document.objects.get(pk=document_id).updated_at > before

    refused = {
        "stranger": add_version(stranger, document_id, {"attachment": upload(members, "stranger")}),
        "observer": add_version(world.observer, document_id, {"attachment": 1}),
        "outsider": add_version(world.outsider, document_id, {"attachment": 1}),
        "anonymous": add_version(None, document_id, {"attachment": 1}),
        "unknown": add_version(world.member, 999_999, {"attachment": 1}),
    }
    assert {who: r.status_code for who, r in refused.items()} == {
        "stranger": 403, "observer": 403, "outsider": 404, "anonymous": 401, "unknown": 404,
    }  # fmt: skip
    assert DocumentVersion.objects.filter(document_id=document_id).count() == 3


def test_a_version_carries_only_the_actors_free_upload_to_the_documents_channel(
    world: World, members: dict[str, Member]
) -> None:
    document_id = add(world.member, draft(upload(members, "member"))).json()["id"]
    other = factories.make_channel("elsewhere")
    factories.admit(other, world.participant_institution, "participant")
    on_a_message = upload(members, "member")
    factories.post(world.member, world.channel, "see attached", attachments=[on_a_message])
    on_a_version = Document.objects.get(pk=document_id).versions.get().attachment_id
    for attachment in (
        factories.bare_attachment(other, world.member).pk,
        upload(members, "owner"),
        on_a_message,
        on_a_version,
    ):
        response = add_version(world.member, document_id, {"attachment": attachment})
        assert response.status_code == 400, response.content
        assert response.json()["error"]["field"] == "attachment"
    bad_note = add_version(
        world.member, document_id, {"attachment": upload(members, "member"), "note": "x" * 501}
    )
    assert bad_note.status_code == 400 and bad_note.json()["error"]["field"] == "note"
    assert DocumentVersion.objects.count() == 1
    assert not AuditEvent.objects.filter(action="document.version_added").exists()


# --- reading --------------------------------------------------------------------------


def test_members_read_documents_and_others_do_not(world: World) -> None:
    document = quick_document(world)
    for user in (world.owner, world.member, world.observer):
        assert listing(user).status_code == 200
        assert [d["id"] for d in listing(user).json()] == [document.pk]
        assert api_client(user).get(f"/api/v1/documents/{document.pk}").status_code == 200
    assert listing(world.outsider).status_code == 403
    assert api_client(world.outsider).get(f"/api/v1/documents/{document.pk}").status_code == 404
    assert listing(None).status_code == 401
    assert api_client(None).get(f"/api/v1/documents/{document.pk}").status_code == 401
    assert api_client(world.member).get("/api/v1/documents/999999").status_code == 404
    Channel.objects.filter(pk=world.channel.pk).update(listed=False)
    assert listing(world.outsider).status_code == 404
    assert listing(world.outsider, slug="nowhere").status_code == 404


def test_a_since_join_channel_hides_documents_added_before_the_institution_joined(
    world: World,
) -> None:
    Channel.objects.filter(pk=world.channel.pk).update(
        history_visibility=HistoryVisibility.SINCE_JOIN
    )
    document = quick_document(world, evaluation=Evaluation("B", 2))
    Admission.objects.filter(institution=world.observer_institution).update(
        created_at=timezone.now() + timedelta(minutes=1)
    )
    assert listing(world.observer).json() == []
    for path in (
        f"/api/v1/documents/{document.pk}",
        f"/api/v1/documents/{document.pk}/evaluations",
    ):
        assert api_client(world.observer).get(path).status_code == 404
    assert [d["id"] for d in listing(world.member).json()] == [document.pk]
    # Moderators see everything, whenever their institution joined.
    Admission.objects.filter(institution=world.participant_institution).update(
        created_at=timezone.now() + timedelta(minutes=1)
    )
    assert [d["id"] for d in listing(world.owner).json()] == [document.pk]
    assert listing(world.member).json() == []


def test_the_list_is_newest_first_and_pages_with_limit_and_before(world: World) -> None:
    ids = [quick_document(world, title=f"Lesson {i}").pk for i in range(5)]
    newest = listing(world.member, "?limit=2").json()
    assert [d["id"] for d in newest] == [ids[4], ids[3]]
    older = listing(world.member, f"?limit=2&before={ids[3]}").json()
    assert [d["id"] for d in older] == [ids[2], ids[1]]
    for bad in ("?limit=0", "?limit=201", "?before=0", "?limit=x"):
        response = listing(world.member, bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["field"] in {"limit", "before"}


def test_every_filter_narrows_the_list(world: World, stranger: User) -> None:
    first = quick_document(
        world, title="Port SCANNING", summary="cargo", tags=["ports", "x"], language="es"
    )
    second = quick_document(
        world, stranger, title="Prisons", summary="radicalisation at the PORT",
        tags=["prisons"], language="pt", handling_code="TLP:GREEN",
    )  # fmt: skip
    third = quick_document(world, title="Bribes", tags=["x"], language="es")

    def ids(query: str) -> list[int]:
        response = listing(world.observer, query)
        assert response.status_code == 200, response.content
        return [d["id"] for d in response.json()]

    assert ids("") == [third.pk, second.pk, first.pk]
    assert ids("?q=port") == [second.pk, first.pk]
    assert ids("?q=scanning") == [first.pk]
    assert ids("?tag=x") == [third.pk, first.pk]
    assert ids("?language=pt") == [second.pk]
    assert ids("?institution=policia-nacional") == [second.pk]
    assert ids("?institution=guardia-civil") == [third.pk, first.pk]
    assert ids("?institution=unknown") == []
    assert ids("?handling_code=TLP:GREEN") == [second.pk]
    assert ids("?handling_code=TLP:AMBER&language=es&tag=x&q=bri") == [third.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?q=", "q"),
        ("?q=%00", "q"),
        (f"?q={'x' * 201}", "q"),
        ("?tag=a%20b", "tag"),
        ("?tag=", "tag"),
        (f"?tag={'x' * 41}", "tag"),
        ("?language=xx", "language"),
        ("?language=EN", "language"),
        ("?institution=", "institution"),
        ("?institution=a%00b", "institution"),
        ("?handling_code=TLP:WHITE", "handling_code"),
        ("?handling_code=", "handling_code"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(world: World, query: str, field: str) -> None:
    response = listing(world.member, query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field


# --- the audit log --------------------------------------------------------------------


def test_the_audit_log_records_documents_without_their_title_or_summary(
    world: World, members: dict[str, Member]
) -> None:
    attachment = upload(members, "member")
    secret_title, secret_summary = "Operation Nightjar", "informant in Valparaiso"
    document_id = add(
        world.member,
        draft(attachment, title=secret_title, summary=secret_summary, tags=["nightjar"]),
    ).json()["id"]
    second = upload(members, "member")
    add_version(world.member, document_id, {"attachment": second, "note": "Nightjar v2"})
    api_client(world.member).patch(
        f"/api/v1/documents/{document_id}",
        {"title": "Operation Nightjar II", "summary": "moved", "evaluation": C3},
        content_type="application/json",
    )
    events = AuditEvent.objects.filter(target=f"document:{document_id}").order_by("seq")
    assert [(e.action, e.actor_id, e.channel_id) for e in events] == [
        ("document.added", world.member.pk, world.channel.pk),
        ("document.version_added", world.member.pk, world.channel.pk),
        ("document.changed", world.member.pk, world.channel.pk),
    ]
    added, versioned, changed = (e.data for e in events)
    assert added == {
        "version": 1, "attachment_id": attachment, "handling_code": "TLP:AMBER",
        "institution_id": world.participant_institution.pk, "language": "es",
    }  # fmt: skip
    assert versioned == {"version": 2, "attachment_id": second}
    assert changed == {"fields": ["title", "summary", "evaluation"]}
    everything = str([e.data for e in AuditEvent.objects.all()]).lower()
    for text in ("nightjar", "valparaiso", "moved"):
        assert text not in everything


# --- the evaluation -------------------------------------------------------------------


def patch(user: User | None, document_id: int, body: dict[str, Any]) -> Any:
    return api_client(user).patch(
        f"/api/v1/documents/{document_id}", body, content_type="application/json"
    )


def history(user: User | None, document_id: int) -> Any:
    return api_client(user).get(f"/api/v1/documents/{document_id}/evaluations")


def test_an_evaluation_is_set_changed_withdrawn_and_kept_in_history(world: World) -> None:
    document_id = add(
        world.member,
        draft(factories.bare_attachment(world.channel, world.member).pk, evaluation=B2),
    ).json()["id"]
    changed = patch(world.member, document_id, {"evaluation": C3})
    assert changed.status_code == 200 and changed.json()["evaluation"] == C3
    assert patch(world.member, document_id, {"evaluation": C3}).status_code == 200  # no change
    withdrawn = patch(world.member, document_id, {"evaluation": None})
    assert withdrawn.json()["evaluation"] is None
    for user in (world.owner, world.member, world.observer):
        response = history(user, document_id)
        assert response.status_code == 200
        assert [
            (c["source_reliability"], c["information_assessment"], c["changed_by"]["username"])
            for c in response.json()
        ] == [("B", 2, "mateo"), ("C", 3, "mateo"), (None, None, "mateo")]
    assert history(world.outsider, document_id).status_code == 404
    assert history(None, document_id).status_code == 401
    assert history(world.member, 999_999).status_code == 404
    assert EvaluationChange.objects.filter(message__isnull=True).count() == 3


def test_the_author_a_colleague_or_a_moderator_changes_title_summary_and_tags(
    world: World, colleague: User, stranger: User
) -> None:
    """SPEC §3 PATCH: the author, a user of the document's institution or a moderator,
    by the one rule that also governs versions and withdrawal (may_change_document)."""
    document = quick_document(world, tags=["old"])
    response = patch(
        world.member, document.pk, {"title": "New title", "summary": "**bold**", "tags": ["b", "a"]}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["summary_html"], body["tags"]) == (
        "New title", "<p><strong>bold</strong></p>\n", ["a", "b"],
    )  # fmt: skip
    assert body["evaluation"] is None and not EvaluationChange.objects.exists()
    assert patch(colleague, document.pk, {"title": "By a colleague"}).status_code == 200
    assert patch(world.owner, document.pk, {"title": "By the moderator"}).status_code == 200
    refused = {
        "stranger": patch(stranger, document.pk, {"title": "x"}).status_code,
        "observer": patch(world.observer, document.pk, {"title": "x"}).status_code,
        "outsider": patch(world.outsider, document.pk, {"title": "x"}).status_code,
        "anonymous": patch(None, document.pk, {"title": "x"}).status_code,
    }
    assert refused == {"stranger": 403, "observer": 403, "outsider": 404, "anonymous": 401}
    for bad, field in (
        ({}, "title"),
        ({"title": "bidi\u202e"}, "title"),
        ({"tags": ["b a d"]}, "tags"),
        ({"language": "pt"}, "language"),
    ):
        response = patch(world.member, document.pk, bad)
        assert response.status_code == 400 and response.json()["error"]["field"] == field
    assert Document.objects.get(pk=document.pk).title == "By the moderator"
    assert AuditEvent.objects.filter(action="document.changed").count() == 3


def test_the_author_alone_changes_the_evaluation(world: World, colleague: User) -> None:
    """SPEC §2: an evaluation is "changeable by its author": the grading is theirs."""
    document = quick_document(world)
    for user in (colleague, world.owner):
        response = patch(user, document.pk, {"evaluation": B2})
        assert response.status_code == 403, response.content
    assert patch(world.member, document.pk, {"evaluation": B2}).json()["evaluation"] == B2
    assert EvaluationChange.objects.count() == 1


def test_an_evaluation_change_belongs_to_exactly_one_thing(world: World) -> None:
    from django.db import IntegrityError, transaction

    message = factories.post(world.member, world.channel)
    document = quick_document(world)
    for fields in ({}, {"message": message, "document": document}):
        with pytest.raises(IntegrityError), transaction.atomic():
            EvaluationChange.objects.create(changed_by=world.member, **fields)


# --- concurrency ----------------------------------------------------------------------


def _in_threads(work: list[Any]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(work))

    def run(job: Any) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_versions_take_contiguous_numbers(world: World) -> None:
    document = quick_document(world)
    authors = [world.member, world.owner] + [
        factories.make_user(f"writer{i}", institution=world.participant_institution)
        for i in range(4)
    ]
    attachments = {
        u.pk: [factories.bare_attachment(world.channel, u) for _ in range(3)] for u in authors
    }

    def add_three(user: User) -> None:
        for attachment in attachments[user.pk]:
            document_version_add(actor=user, document_id=document.pk, attachment=attachment.pk)

    assert _in_threads([lambda u=u: add_three(u) for u in authors]) == []
    numbers = document.versions.order_by("number").values_list("number", flat=True)
    assert list(numbers) == list(range(1, 20))


@pytest.mark.django_db(transaction=True)
def test_one_attachment_raced_between_messages_and_versions_goes_to_one_of_them(
    world: World,
) -> None:
    document = quick_document(world)
    attachment = factories.bare_attachment(world.channel, world.member).pk

    def as_message() -> None:
        factories.post(world.member, world.channel, "mine", attachments=[attachment])

    def as_version() -> None:
        document_version_add(actor=world.member, document_id=document.pk, attachment=attachment)

    errors = _in_threads([as_message, as_version, as_message, as_version])
    assert len(errors) == 3 and all(isinstance(e, BadRequest) for e in errors), errors
    on_a_message = Attachment.objects.get(pk=attachment).message_id is not None
    on_a_version = DocumentVersion.objects.filter(attachment_id=attachment).exists()
    assert on_a_message != on_a_version
