"""Writing to and checking the hash chain of audit events (SPEC §2 "Audit event").

`record` appends one event inside the caller's transaction, so the event exists if and
only if the change it describes was committed. `verify` walks the whole chain.

The hash of an event is SHA-256 over the RFC 8785 canonical JSON of the object
`canonical_fields` returns, which includes the previous event's hash: anyone holding
the events from GET /api/v1/audit can recompute it with any JCS implementation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785
from django.db import transaction
from django.utils import timezone

from audit.models import GENESIS_HASH, AuditEvent, AuditHead

# Keys whose values never enter the log, whatever a caller passes: the log must hold no
# secret and no content (message text, key material, tokens, passwords).
MASKED_KEYS = frozenset(
    {"password", "secret", "token", "body", "ciphertext", "backup", "private_key", "otp"}
)
MASK = "[masked]"


def _masked(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key.lower() in MASKED_KEYS:
            out[key] = MASK
        elif isinstance(value, Mapping):
            out[key] = _masked(value)
        else:
            out[key] = value
    return out


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical_fields(event: AuditEvent) -> dict[str, Any]:
    """Exactly what the hash covers, as the API also shows it."""
    return {
        "seq": event.seq,
        "time": _timestamp(event.created_at),
        "actor": event.actor or None,
        "actor_id": event.actor_id,
        "action": event.action,
        "channel_id": event.channel_id,
        "target": event.target,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(rfc8785.dumps(canonical_fields(event))).hexdigest()


def record(
    *,
    action: str,
    actor: Any = None,
    channel: Any = None,
    target: str = "",
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    `actor` is a user or None (the platform: the command line, a migration, a timer);
    `channel` a Channel or None. `data` must be JSON: it is normalised through JSON so
    that the value hashed is the value stored, and secret-looking keys are masked.
    """
    payload = json.loads(json.dumps(_masked(data or {})))
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:  # only where the tables were flushed (the test suite)
            AuditHead.objects.get_or_create(pk=1)
            head = AuditHead.objects.select_for_update().get(pk=1)
        event = AuditEvent(
            seq=head.seq + 1,
            created_at=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor=getattr(actor, "username", "") or "",
            action=action,
            channel_id=getattr(channel, "pk", None),
            target=target[:200],
            data=payload,
            prev_hash=head.hash,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    head: str
    broken_seq: int | None = None
    reason: str = ""


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)


def verify() -> Verdict:
    """Walk the chain from the first event; name the first sequence number that breaks it.

    A row altered fails its own hash; a row deleted leaves a gap in the numbers; rows
    reordered (numbers swapped) fail their hashes, which cover the number and the
    predecessor's hash; a deleted tail no longer reaches the head row.
    """
    expected_seq, prev = 1, GENESIS_HASH
    count = 0
    for event in _events():
        if event.seq != expected_seq:
            return Verdict(False, count, prev, expected_seq, "an event is missing")
        if event.prev_hash != prev:
            return Verdict(
                False, count, prev, event.seq, "the link to the previous event is broken"
            )
        if event_hash(event) != event.hash:
            return Verdict(False, count, prev, event.seq, "the event was altered")
        prev, expected_seq, count = event.hash, expected_seq + 1, count + 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is None or head.seq != count or head.hash != prev:
        return Verdict(False, count, prev, count + 1, "events after this one were removed")
    return Verdict(True, count, prev)
