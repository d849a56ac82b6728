"""The audit log: an append-only chain of events, each hashed over its predecessor.

An event names who did what to whom, never message text or key material. Rows are
never updated or deleted (on PostgreSQL a trigger refuses it, see migration 0002), and
each row's hash covers the previous row's hash, so altering, deleting or reordering
any row breaks the chain from that row on, which `audit.chain.verify` reports.

Actors and channels are kept as plain values, not foreign keys: a foreign key would
let a deletion elsewhere cascade into (or null out) rows that must never change.
"""

from __future__ import annotations

from django.db import models

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True)
    actor = models.CharField(max_length=150, blank=True)  # the username at the time
    action = models.CharField(max_length=64, db_index=True)
    channel_id = models.BigIntegerField(null=True, db_index=True)
    target = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target}"


class AuditHead(models.Model):
    """The chain's last sequence number and hash: one row, locked by every writer.

    Locking it orders concurrent writers (so sequence numbers follow commit order), and
    comparing it with the last event detects a deleted tail.
    """

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"head #{self.seq}"
