"""The evaluation as a client sends it, with a message or a document (SPEC §2)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from channels_app.evaluations.pair import Evaluation
from exchange.kernel.schema import Strict


class EvaluationIn(Strict):
    """The 4x4 evaluation of SPEC §2 (channels_app.evaluations.pair): both halves or none."""

    source_reliability: Literal["A", "B", "C", "X"]
    information_assessment: StrictInt = Field(ge=1, le=4)

    def value(self) -> Evaluation:
        return Evaluation(self.source_reliability, self.information_assessment)


def evaluation_value(evaluation: EvaluationIn | None) -> Evaluation | None:
    return None if evaluation is None else evaluation.value()
