"""Input shapes shared by the HTTP API and the WebSocket frames.

Unknown fields are refused (no mass assignment); strings and integers are not
coerced from other JSON types, so `"body": 5` is an error, not "5".
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from ninja import Schema
from pydantic import ConfigDict, Field, StrictInt, StrictStr

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
MAX_BODY = 10_000


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class MessageDraft(Strict):
    """A new message as a client sends it (POST body, `message.send` frame)."""

    body: StrictStr = Field(default="", max_length=MAX_BODY)
    client_id: UUID
    parent: StrictInt | None = Field(default=None, ge=1)
    attachments: list[StrictInt] = Field(default_factory=list, max_length=20)
    handling_code: StrictStr | None = None


class MessageEdit(Strict):
    body: StrictStr = Field(max_length=MAX_BODY)


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
