"""Writes of an evaluation's history, for messages and documents alike.

The carrier's own service (message_send, message_edit, document_add, document_change)
checks who may set the evaluation; these two functions decide whether a proposed
evaluation changes anything and keep every setting, so the rule "the same pair again
records nothing; every change, withdrawal included, is kept" is written once.
"""

from __future__ import annotations

from channels_app.evaluations.pair import KEEP, Evaluation, Keep, clean_evaluation, evaluation_now
from channels_app.models import Document, EvaluationChange, EvaluationFields, Message
from permissions.models import User


def evaluation_change(
    carrier: EvaluationFields, proposed: Evaluation | Keep | None
) -> Evaluation | Keep | None:
    """What an edit sets on `carrier`: the cleaned pair, None to withdraw it, or KEEP when
    it leaves the evaluation as it is (KEEP given, or the pair it already carries)."""
    if proposed is KEEP:
        return KEEP
    proposed = clean_evaluation(proposed)
    if proposed == evaluation_now(carrier):
        return KEEP
    return proposed


def evaluation_record(
    *, carrier: Message | Document, actor: User, value: Evaluation | None
) -> EvaluationChange:
    """Keep one setting (None: a withdrawal) in the carrier's history; call it in the
    transaction that stores the setting on the carrier."""
    which: dict[str, Message | Document] = {
        "message" if isinstance(carrier, Message) else "document": carrier
    }
    return EvaluationChange.objects.create(
        changed_by=actor,
        source_reliability=value.source_reliability if value else "",
        information_assessment=value.information_assessment if value else None,
        **which,
    )
