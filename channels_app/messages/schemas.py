"""The shapes of messages: what a client sends (HTTP body or socket frame) and what it gets.

Inputs refuse unknown fields and do not coerce JSON types (exchange.kernel.schema.Strict).
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field, StrictInt, StrictStr

from channels_app.evaluations.pair import KEEP, Evaluation, Keep
from channels_app.evaluations.schemas import EvaluationIn, evaluation_value
from exchange.kernel.schema import Strict

MAX_BODY = 10_000


class MessageDraft(Strict):
    """A new message as a client sends it (POST body, `message.send` frame)."""

    body: StrictStr = Field(default="", max_length=MAX_BODY)
    client_id: UUID
    parent: StrictInt | None = Field(default=None, ge=1)
    attachments: list[StrictInt] = Field(default_factory=list, max_length=20)
    handling_code: StrictStr | None = None
    evaluation: EvaluationIn | None = None


class Revision(Strict):
    """What an edit changes: the body, the evaluation (null withdraws it), or both."""

    body: StrictStr | None = Field(default=None, max_length=MAX_BODY)
    evaluation: EvaluationIn | None = None

    def evaluation_change(self) -> Evaluation | Keep | None:
        """The new evaluation, or KEEP when the client did not name the field at all."""
        if "evaluation" not in self.model_fields_set:
            return KEEP
        return evaluation_value(self.evaluation)


class MessageEdit(Revision):
    pass
