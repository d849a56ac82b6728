"""The audit chain: appended in order, verified, and broken visibly by any tampering.

Tampering is done the way an attacker with database access would: raw SQL against the
table (on PostgreSQL with the append-only trigger switched off for the session, which
only a superuser can do; the trigger itself is tested to refuse the plain statement).
"""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
import rfc8785
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.chain import MASK, canonical_fields, record, verify
from audit.models import GENESIS_HASH, AuditEvent

pytestmark = pytest.mark.django_db


def _events(n: int) -> list[AuditEvent]:
    return [record(action="test.event", target=f"thing:{i}", data={"i": i}) for i in range(n)]


def _raw(sql: str, params: list[object]) -> None:
    """Run a statement as a database superuser would, past the append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def test_events_are_numbered_and_linked_from_the_genesis_hash() -> None:
    first, second, third = _events(3)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    verdict = verify()
    assert verdict.ok and verdict.events == 3 and verdict.head == third.hash


def test_the_hash_is_sha256_of_the_rfc8785_canonical_json_an_outsider_can_recompute() -> None:
    (event,) = _events(1)
    stored = AuditEvent.objects.get(pk=event.pk)
    expected = hashlib.sha256(rfc8785.dumps(canonical_fields(stored))).hexdigest()
    assert stored.hash == expected
    assert canonical_fields(stored)["prev_hash"] == GENESIS_HASH


def test_secrets_and_content_are_masked_whatever_the_caller_passes() -> None:
    event = record(
        action="test.secret",
        data={"password": "hunter2", "nested": {"token": "exch_abc", "size": 3}, "body": "text"},
    )
    assert event.data == {"password": MASK, "nested": {"token": MASK, "size": 3}, "body": MASK}


def test_an_event_rolled_back_with_its_change_leaves_no_trace() -> None:
    _events(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="test.rolled_back")
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == 1
    assert verify().ok
    assert record(action="test.after").seq == 2


def test_altering_a_row_is_detected_at_its_sequence_number() -> None:
    _events(5)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    _raw(f"UPDATE {table} SET target = %s WHERE seq = %s", ["thing:forged", 3])  # noqa: S608
    verdict = verify()
    assert not verdict.ok and verdict.broken_seq == 3 and verdict.events == 2


def test_deleting_a_row_is_detected_where_the_gap_opens() -> None:
    _events(5)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    _raw(f"DELETE FROM {table} WHERE seq = %s", [2])  # noqa: S608
    verdict = verify()
    assert not verdict.ok and verdict.broken_seq == 2


def test_deleting_the_newest_rows_is_detected_against_the_head() -> None:
    _events(5)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    _raw(f"DELETE FROM {table} WHERE seq >= %s", [4])  # noqa: S608
    verdict = verify()
    assert not verdict.ok and verdict.broken_seq == 4


def test_reordering_rows_is_detected() -> None:
    _events(5)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    # Swap the numbers of events 2 and 3 (through a free number, as the column is unique).
    _raw(f"UPDATE {table} SET seq = 1000 WHERE seq = 2", [])  # noqa: S608
    _raw(f"UPDATE {table} SET seq = 2 WHERE seq = 3", [])  # noqa: S608
    _raw(f"UPDATE {table} SET seq = 3 WHERE seq = 1000", [])  # noqa: S608
    verdict = verify()
    assert not verdict.ok and verdict.broken_seq == 2


def test_verify_audit_command_passes_an_intact_chain() -> None:
    _events(3)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "3 events" in out.getvalue()


def test_verify_audit_command_exits_1_naming_the_first_broken_sequence_number() -> None:
    _events(4)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    _raw(f"UPDATE {table} SET action = %s WHERE seq = %s", ["test.forged", 2])  # noqa: S608
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    assert failure.value.returncode == 1
    assert "sequence number 2" in str(failure.value)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize("statement", ["UPDATE {t} SET action = 'x'", "DELETE FROM {t}"])
def test_postgresql_trigger_refuses_update_and_delete(statement: str) -> None:
    _events(2)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement.format(t=table))
    assert verify().ok
