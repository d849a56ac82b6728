"""The shapes of documents: what a client sends to add or change one, and what it gets."""

from __future__ import annotations

from pydantic import Field, StrictInt, StrictStr

from channels_app.documents.fields import MAX_NOTE, MAX_SUMMARY, MAX_TAGS, MAX_TITLE
from channels_app.evaluations.pair import KEEP, Evaluation, Keep
from channels_app.evaluations.schemas import EvaluationIn, evaluation_value
from exchange.kernel.schema import Strict


class DocumentDraft(Strict):
    """A new document with its first version (POST /channels/{slug}/documents)."""

    title: StrictStr = Field(min_length=1, max_length=MAX_TITLE)
    summary: StrictStr = Field(default="", max_length=MAX_SUMMARY)
    tags: list[StrictStr] = Field(default_factory=list, max_length=MAX_TAGS)
    language: StrictStr = Field(min_length=2, max_length=2)
    handling_code: StrictStr | None = None
    attachment: StrictInt = Field(ge=1, description="An attachment uploaded beforehand")
    note: StrictStr = Field(default="", max_length=MAX_NOTE)
    evaluation: EvaluationIn | None = None


class VersionDraft(Strict):
    """A new version of a document: an attachment uploaded beforehand, and a note."""

    attachment: StrictInt = Field(ge=1)
    note: StrictStr = Field(default="", max_length=MAX_NOTE)


class DocumentEdit(Strict):
    """What the author changes of a document; the evaluation null withdraws it."""

    title: StrictStr | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    summary: StrictStr | None = Field(default=None, max_length=MAX_SUMMARY)
    tags: list[StrictStr] | None = Field(default=None, max_length=MAX_TAGS)
    evaluation: EvaluationIn | None = None

    def evaluation_change(self) -> Evaluation | Keep | None:
        """The new evaluation, or KEEP when the client did not name the field at all."""
        if "evaluation" not in self.model_fields_set:
            return KEEP
        return evaluation_value(self.evaluation)
