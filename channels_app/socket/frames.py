"""Client frames of SPEC §4: text in, a validated frame model out, or the reason not.

A pure function, apart from the socket, so that it can be fuzzed on its own (bench/fuzz.py
and tests/security/test_fuzz.py): whatever the text, the result is a frame model or a
`FrameRefused`; any other exception is a bug.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationError

from channels_app.messages.schemas import MessageDraft, Revision
from exchange.kernel.errors import BadRequest, ServiceError, TooLarge
from exchange.kernel.json_input import loads_object
from exchange.kernel.schema import Strict

MAX_FRAME_BYTES = 64 * 1024
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


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


FRAMES: dict[str, type[BaseModel]] = {
    "subscribe": SubscribeFrame,
    "unsubscribe": UnsubscribeFrame,
    "message.send": SendFrame,
    "message.edit": EditFrame,
    "message.delete": DeleteFrame,
    "message.report": ReportFrame,
    "ping": PingFrame,
}


class FrameRefused(Exception):
    """A frame that is not one of SPEC §4's: `error` says why, `ref` is the frame's
    `client_id` (or `ref`) when it had a string one, so the client can match the refusal to
    its frame."""

    def __init__(self, error: ServiceError, ref: str | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.ref = ref


def _validation_message(exc: ValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    # An unknown field is named first, as over HTTP (exchange.api).
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    field = ".".join(str(part) for part in error["loc"]) or None
    return (f"{field}: {error['msg']}" if field else error["msg"]), field


def parse_frame(text_data: str | None) -> BaseModel:
    """The frame model for one WebSocket message (None: it was binary), or `FrameRefused`."""
    if text_data is None:
        raise FrameRefused(BadRequest("Frames are JSON text, not binary."))
    # A character takes at most 4 bytes in UTF-8: encode only frames that might be too long.
    if len(text_data) * 4 > MAX_FRAME_BYTES and len(text_data.encode()) > MAX_FRAME_BYTES:
        raise FrameRefused(TooLarge(f"A frame is at most {MAX_FRAME_BYTES} bytes."))
    try:
        raw = loads_object(text_data)
    except BadRequest as exc:
        raise FrameRefused(
            BadRequest(f"A frame is a JSON object. {exc.message}", field=exc.field)
        ) from None
    ref = next((raw[k] for k in ("client_id", "ref") if isinstance(raw.get(k), str)), None)
    frame_type = raw.get("type")
    if not isinstance(frame_type, str):
        raise FrameRefused(BadRequest('A frame is a JSON object with a string "type".'), ref)
    schema = FRAMES.get(frame_type)
    if schema is None:
        raise FrameRefused(
            BadRequest(f"Unknown frame type {frame_type[:40]!r}.", field="type"), ref
        )
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        message, field = _validation_message(exc)
        raise FrameRefused(BadRequest(message, field=field), ref) from None
