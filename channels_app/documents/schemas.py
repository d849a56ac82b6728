"""The shapes of documents: what a client sends to add or change one, and what it gets.

The outputs are TypedDicts for the reason given in channels_app.messages.schemas.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr
from typing_extensions import TypedDict

from channels_app.documents.fields import MAX_NOTE, MAX_SUMMARY, MAX_TAGS, MAX_TITLE
from channels_app.evaluations.pair import KEEP, Evaluation, Keep
from channels_app.evaluations.schemas import EvaluationIn, evaluation_value
from channels_app.messages.schemas import AuthorOut, EvaluationOut, InstitutionRef
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


class VersionAttachmentOut(TypedDict):
    id: int
    size: int
    sha256: str
    epoch: int


class VersionOut(TypedDict):
    number: int
    attachment: VersionAttachmentOut
    author: AuthorOut
    note: str
    created_at: str


class DocumentOut(TypedDict):
    id: int
    channel: str
    title: str
    summary: Annotated[str, Field(description="Markdown source")]
    summary_html: Annotated[
        str, Field(description="The summary rendered and sanitised by the server")
    ]
    tags: list[str]
    language: Annotated[str, Field(description="ISO 639-1")]
    institution: InstitutionRef | None
    handling_code: str
    author: AuthorOut
    created_at: str
    updated_at: str
    evaluation: EvaluationOut | None
    versions: Annotated[
        list[VersionOut], Field(description="Oldest first; each an encrypted attachment")
    ]
    downloads: Annotated[
        int,
        Field(
            description="Distinct users who fetched one of its versions in full "
            "(GET /attachments/{id} served to the last byte)"
        ),
    ]
    message: Annotated[
        int | None,
        Field(description="The id of the channel message that announced the document"),
    ]
    withdrawn_at: Annotated[
        str | None,
        Field(description="When it was withdrawn (DELETE /documents/{id}); lists omit it then"),
    ]


class LibraryItemOut(DocumentOut):
    """A document in a list, with the search hit when the list was searched."""

    snippet: Annotated[
        str | None,
        Field(
            description="With `q`: sanitised HTML of the title or summary around the hits, "
            "each hit in <mark> (nothing else is kept); null without `q`"
        ),
    ]
