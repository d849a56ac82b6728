"""Input shapes shared by the HTTP API and the WebSocket frames.

Unknown fields are refused (no mass assignment); strings and integers are not
coerced from other JSON types, so `"body": 5` is an error, not "5".
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal
from uuid import UUID

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

from channels_app.documents.fields import MAX_NOTE, MAX_SUMMARY, MAX_TAGS, MAX_TITLE
from channels_app.evaluations.pair import KEEP, Evaluation, Keep

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
MAX_BODY = 10_000


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class EvaluationIn(Strict):
    """The 4x4 evaluation of SPEC §2 (channels_app.evaluations.pair): both halves or none."""

    source_reliability: Literal["A", "B", "C", "X"]
    information_assessment: StrictInt = Field(ge=1, le=4)

    def value(self) -> Evaluation:
        return Evaluation(self.source_reliability, self.information_assessment)


def evaluation_value(evaluation: EvaluationIn | None) -> Evaluation | None:
    return None if evaluation is None else evaluation.value()


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


class SubscribeFrame(Strict):
    type: Literal["subscribe"]
    channel: StrictStr = Field(pattern=SLUG_PATTERN)
    after: StrictInt | None = Field(default=None, ge=0)


class UnsubscribeFrame(Strict):
    type: Literal["unsubscribe"]
    channel: StrictStr = Field(pattern=SLUG_PATTERN)


class SendFrame(MessageDraft):
    type: Literal["message.send"]
    channel: StrictStr = Field(pattern=SLUG_PATTERN)


class PingFrame(Strict):
    type: Literal["ping"]


class MessageFrame(Strict):
    """A frame about one existing message; `ref`, if given, comes back in the answer."""

    message: StrictInt = Field(ge=1)
    ref: StrictStr | None = Field(default=None, max_length=64)


class EditFrame(MessageFrame, Revision):
    type: Literal["message.edit"]


class DeleteFrame(MessageFrame):
    type: Literal["message.delete"]


class ReportFrame(MessageFrame):
    type: Literal["message.report"]
    reason: StrictStr = Field(min_length=1, max_length=1000)


def _decode_base64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not standard base64 with padding") from None


Base64 = Annotated[bytes, BeforeValidator(_decode_base64)]


def b64(data: bytes | memoryview | None) -> str | None:
    return None if data is None else base64.b64encode(bytes(data)).decode("ascii")


class IdentityKeyIn(Strict):
    public_key: StrictStr = Field(max_length=100)


class BackupIn(Strict):
    backup: Base64


class ShareIn(Strict):
    username: StrictStr = Field(max_length=150)
    ciphertext: Base64


class EpochIn(Strict):
    number: StrictInt = Field(ge=1)
    public_key: StrictStr = Field(max_length=100)
    back_link: Base64 | None = None
    shares: list[ShareIn] = Field(max_length=5000)


class DeliveryIn(ShareIn):
    epoch: StrictInt = Field(ge=1)


class DeliveriesIn(Strict):
    shares: list[DeliveryIn] = Field(max_length=5000)
