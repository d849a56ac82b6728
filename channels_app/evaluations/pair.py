"""The 4x4 evaluation of SPEC §2: how law-enforcement exchanges grade intelligence.

An evaluation is a pair: the reliability of the source (A, B, C or X) and the
assessment of the information itself (1 to 4). A message carries one or none; its
author may change or withdraw it, and every setting is kept (EvaluationChange), so a
reader can see that "B2" used to be "C3". Documents carry the same pair.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final

from channels_app.models import EvaluationFields, InformationAssessment, SourceReliability
from exchange.kernel.errors import BadRequest


@dataclass(frozen=True)
class Evaluation:
    source_reliability: str
    information_assessment: int

    @property
    def code(self) -> str:
        """The usual short form, as officers write it: "B2"."""
        return f"{self.source_reliability}{self.information_assessment}"


class Keep(enum.Enum):
    """Passed for an evaluation that an edit leaves as it is (None withdraws it)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


def clean_evaluation(value: Evaluation | None) -> Evaluation | None:
    """Refuse a pair outside the scheme, whoever built it (API, socket, a page's form)."""
    if value is None:
        return None
    if value.source_reliability not in SourceReliability.values:
        raise BadRequest(
            "evaluation.source_reliability is one of A, B, C or X.", field="evaluation"
        )
    if value.information_assessment not in InformationAssessment.values:
        raise BadRequest(
            "evaluation.information_assessment is one of 1, 2, 3 or 4.", field="evaluation"
        )
    return value


def evaluation_of(source_reliability: str, information_assessment: int | None) -> Evaluation | None:
    """The pair as stored (empty string and NULL for none) back to a value or None."""
    if not source_reliability or information_assessment is None:
        return None
    return Evaluation(source_reliability, information_assessment)


def evaluation_now(carrier: EvaluationFields) -> Evaluation | None:
    """The evaluation a message or a document carries now."""
    return evaluation_of(carrier.source_reliability, carrier.information_assessment)


def stored(value: Evaluation | None) -> dict[str, Any]:
    """The model fields for a value or for none."""
    if value is None:
        return {"source_reliability": "", "information_assessment": None}
    return {
        "source_reliability": value.source_reliability,
        "information_assessment": value.information_assessment,
    }
