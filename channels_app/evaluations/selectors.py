"""Reads of an evaluation's history, for messages and documents alike."""

from __future__ import annotations

from channels_app.models import EvaluationChange


def evaluation_history(**carrier: int) -> list[EvaluationChange]:
    """Every setting of one message's or document's evaluation (`message_id=` or
    `document_id=`), oldest first; the caller checked that the reader may see it
    (permissions.access.message_by_id, document_by_id)."""
    return list(
        EvaluationChange.objects.filter(**carrier)
        .select_related("changed_by", "changed_by__institution")
        .order_by("id")
    )
