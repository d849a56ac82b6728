"""Message services against the real database: order, idempotency, rendering."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.db import connection

from channels_app.messages.services import message_delete, message_edit, message_send
from channels_app.models import Message
from exchange.kernel.errors import BadRequest, Conflict, Forbidden
from tests import factories
from tests.conftest import World
from tests.inert import assert_inert


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_get_contiguous_seq_numbers_in_commit_order(world: World) -> None:
    senders = [world.owner, world.member] + [
        factories.make_user(f"sender{i}", institution=world.participant_institution)
        for i in range(6)
    ]
    errors: list[BaseException] = []

    def send_many(user):  # type: ignore[no-untyped-def]
        try:
            for i in range(10):
                message_send(
                    actor=user, channel_slug=world.channel.slug, client_id=uuid.uuid4(), body=str(i)
                )
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send_many, args=(u,)) for u in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    rows = list(Message.objects.filter(channel=world.channel).order_by("id").values_list("seq"))
    assert [seq for (seq,) in rows] == list(range(1, 81))
    world.channel.refresh_from_db()
    assert world.channel.last_seq == 80


@pytest.mark.django_db(transaction=True)
def test_a_client_id_raced_from_two_connections_is_stored_once(world: World) -> None:
    client_id = uuid.uuid4()
    results: list[int] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        try:
            barrier.wait()
            message, _ = message_send(
                actor=world.member, channel_slug=world.channel.slug, client_id=client_id, body="x"
            )
            results.append(message.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4 and len(set(results)) == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_client_id_reused_in_another_channel_is_a_conflict(world: World) -> None:
    other = factories.make_channel("other")
    factories.admit(other, world.participant_institution)
    client_id = uuid.uuid4()
    message_send(actor=world.member, channel_slug=world.channel.slug, client_id=client_id, body="a")
    with pytest.raises(Conflict):
        message_send(actor=world.member, channel_slug="other", client_id=client_id, body="a")


@pytest.mark.django_db
def test_an_archived_channel_refuses_new_messages(world: World) -> None:
    world.channel.archived = True
    world.channel.save()
    with pytest.raises(Conflict):
        factories.post(world.member, world.channel)


@pytest.mark.django_db
def test_content_above_the_channel_maximum_is_refused(world: World) -> None:
    world.channel.max_handling_code = "TLP:GREEN"
    world.channel.save()
    assert factories.post(world.member, world.channel, handling_code="TLP:CLEAR").pk
    with pytest.raises(BadRequest):
        factories.post(world.member, world.channel, handling_code="TLP:AMBER")


@pytest.mark.django_db
def test_hostile_markdown_is_rendered_inert(world: World) -> None:
    body = (
        "<script>alert(1)</script> <img src=x onerror=alert(1)> [a](javascript:alert(1)) "
        "[b](JaVaScRiPt:alert(1)) [c](data:text/html;base64,PHNjcmlwdD4=) ![i](https://evil/x.png) "
        '<a href="https://x" onclick="alert(1)">x</a> [ok](https://example.org)'
    )
    html = factories.post(world.member, world.channel, body).html
    assert_inert(html)
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html


@pytest.mark.django_db
def test_an_image_becomes_a_link_named_by_its_alt_text_never_an_image(world: World) -> None:
    body = "see ![the *chart* <b>](https://example.org/c.png) and ![](https://example.org/d.png)"
    html = factories.post(world.member, world.channel, body).html
    assert_inert(html)
    rel = 'rel="noopener noreferrer nofollow"'
    assert html == (
        f'<p>see <a href="https://example.org/c.png" {rel}>the chart &lt;b&gt;</a> and '
        f'<a href="https://example.org/d.png" {rel}>https://example.org/d.png</a></p>\n'
    )
    hostile = factories.post(world.member, world.channel, "![x](data:image/png;base64,AAAA)")
    assert hostile.html == f"<p><a {rel}>x</a></p>\n"


@pytest.mark.django_db
def test_a_deleted_message_keeps_its_place_but_not_its_text(world: World) -> None:
    message = factories.post(world.member, world.channel, "to go")
    deleted = message_delete(actor=world.member, message_id=message.pk)
    assert deleted.deleted_at is not None and deleted.body == "" and deleted.seq == message.seq
    with pytest.raises(Conflict):
        message_edit(actor=world.member, message_id=message.pk, body="back")


@pytest.mark.django_db
def test_an_author_who_became_observer_can_no_longer_edit(world: World) -> None:
    message = factories.post(world.member, world.channel, "mine")
    factories.admit(world.channel, world.participant_institution, "observer")
    with pytest.raises(Forbidden):
        message_edit(actor=world.member, message_id=message.pk, body="changed")


@pytest.mark.django_db(transaction=True)  # autocommit, as in the server: no savepoint
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement send is PostgreSQL's"
)
def test_a_plain_send_on_postgresql_checks_access_and_stores_in_one_statement(
    world: World, django_assert_num_queries: Any
) -> None:
    """The hot path of every chat message: access check, next seq and insert together."""
    with django_assert_num_queries(1):
        message, created = message_send(
            actor=world.member, channel_slug="ops", client_id=uuid.uuid4(), body="one trip"
        )
    assert created and message.seq == world.channel.last_seq + 1
    # Refusals still take the general path and say exactly why.
    with pytest.raises(Forbidden):
        message_send(actor=world.observer, channel_slug="ops", client_id=uuid.uuid4(), body="x")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)
def test_the_send_statement_is_prepared_once_per_connection_not_planned_per_message(
    world: World,
) -> None:
    """Planning the send statement cost PostgreSQL twice what running it did; the setting
    that has psycopg prepare it (`prepare_threshold`) is one Django switches off unless
    asked, so ask the server whether it really holds the prepared statement."""
    for body in ("one", "two", "three"):
        message_send(actor=world.member, channel_slug="ops", client_id=uuid.uuid4(), body=body)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%INSERT INTO " + connection.ops.quote_name(Message._meta.db_table) + "%"],
        )
        (prepared,) = cursor.fetchone()
    assert prepared == 1
