"""The shapes of messages: what a client sends (HTTP body or socket frame) and what it gets.

Inputs refuse unknown fields and do not coerce JSON types (exchange.kernel.schema.Strict).

Outputs are TypedDicts, each the one definition of its shape: the builders in
channels_app.messages.payloads return them (so mypy checks every key), the API routes
name them as their response (so the OpenAPI document and the response validation come
from them), and the socket's frames embed them (channels_app.socket.server_frames). A
TypedDict costs nothing to build, which matters where up to 200 messages are built per
request and each broadcast is built once and encoded once; a pydantic model would have
to be constructed and dumped again for every one. They carry comments, not docstrings:
pydantic would publish a docstring as the schema's description in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictInt, StrictStr

# pydantic reads TypedDicts only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict

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


# How an institution appears beside content: in messages, members and the catalogue.
class InstitutionRef(TypedDict):
    slug: str
    name: str
    country: str


# How a person appears beside what they wrote or changed.
class AuthorOut(TypedDict):
    username: str
    display_name: str
    institution: InstitutionRef | None


class AttachmentRef(TypedDict):
    id: int
    size: int
    epoch: int


class EvaluationOut(TypedDict):
    source_reliability: Annotated[str, Field(description="A, B, C or X")]
    information_assessment: Annotated[int, Field(description="1 to 4")]


# One entry of an evaluation's history; both halves null: withdrawn.
class EvaluationChangeOut(TypedDict):
    source_reliability: Annotated[str | None, Field(description="null (with the other): withdrawn")]
    information_assessment: int | None
    changed_by: AuthorOut
    changed_at: str


# The message object of SPEC §4, over HTTP and in the socket's frames alike.
class MessageOut(TypedDict):
    id: int
    seq: int
    channel: str
    author: AuthorOut
    body: str
    html: str
    parent: int | None
    attachments: list[AttachmentRef]
    handling_code: str
    created_at: str
    edited_at: str | None
    deleted: bool
    evaluation: Annotated[
        EvaluationOut | None,
        Field(
            description="The 4x4 evaluation (SPEC §2), or null: source reliability and assessment"
        ),
    ]
