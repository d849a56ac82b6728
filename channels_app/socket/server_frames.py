"""Server frames of SPEC §4: what the socket sends, one definition per frame type.

Each frame is a TypedDict, for the reason the message shapes are
(channels_app.messages.schemas): the consumer builds plain dicts that mypy checks against
these, at no cost per frame, and encodes them with json.dumps. The message frames embed
the same MessageOut the HTTP API returns.

`check_server_frame` validates a frame as received against its definition, strictly (no
coercion, no key missing, none extra); the consumer tests run it on every frame they
receive, so a frame that drifts from this module fails there.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import TypeAdapter
from typing_extensions import TypedDict

from channels_app.messages.schemas import MessageOut


class SubscribedFrame(TypedDict):
    type: Literal["subscribed"]
    channel: str
    # The backlog after `after`, ascending, at most 200.
    messages: list[MessageOut]


class UnsubscribedFrame(TypedDict):
    type: Literal["unsubscribed"]
    channel: str


class MessageAckFrame(TypedDict):
    type: Literal["message.ack"]
    client_id: str
    message: MessageOut


class MessageChangeFrame(TypedDict):
    """Broadcast to every subscribed socket; encoded once (channels_app.messages.events)."""

    type: Literal["message.new", "message.updated", "message.deleted"]
    message: MessageOut


class DoneFrame(TypedDict):
    """The answer to a frame about one message, naming it in `of` and echoing its `ref`."""

    type: Literal["done"]
    of: Literal["message.edit", "message.delete", "message.report"]
    message: NotRequired[MessageOut]  # after an edit or a delete
    report: NotRequired[int]  # after a report: its id
    ref: NotRequired[str]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    message: str
    ref: NotRequired[str]
    channel: NotRequired[str]
    field: NotRequired[str]
    retry_after: NotRequired[int]


class PongFrame(TypedDict):
    type: Literal["pong"]


class ChannelRevokedFrame(TypedDict):
    type: Literal["channel.revoked"]
    channel: str


class ChannelRoleFrame(TypedDict):
    type: Literal["channel.role"]
    channel: str
    role: str | None
    is_moderator: bool


class EpochNewFrame(TypedDict):
    type: Literal["epoch.new"]
    channel: str
    epoch: int


class SharesPendingFrame(TypedDict):
    type: Literal["shares.pending"]
    channel: str


class ShareAvailableFrame(TypedDict):
    type: Literal["share.available"]
    channel: str
    epoch: int


ServerFrame = (
    SubscribedFrame
    | UnsubscribedFrame
    | MessageAckFrame
    | MessageChangeFrame
    | DoneFrame
    | ErrorFrame
    | PongFrame
    | ChannelRevokedFrame
    | ChannelRoleFrame
    | EpochNewFrame
    | SharesPendingFrame
    | ShareAvailableFrame
)

SERVER_FRAMES: dict[str, type[Any]] = {
    "subscribed": SubscribedFrame,
    "unsubscribed": UnsubscribedFrame,
    "message.ack": MessageAckFrame,
    "message.new": MessageChangeFrame,
    "message.updated": MessageChangeFrame,
    "message.deleted": MessageChangeFrame,
    "done": DoneFrame,
    "error": ErrorFrame,
    "pong": PongFrame,
    "channel.revoked": ChannelRevokedFrame,
    "channel.role": ChannelRoleFrame,
    "epoch.new": EpochNewFrame,
    "shares.pending": SharesPendingFrame,
    "share.available": ShareAvailableFrame,
}


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(frame_type: str, definition: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(frame_type)
    if adapter is None:
        adapter = _ADAPTERS[frame_type] = TypeAdapter(definition)
    return adapter


def check_server_frame(frame: object) -> None:
    """Raise ValueError unless `frame` (decoded JSON) is exactly one of the frames above."""
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValueError(f"A server frame is an object with a string type: {frame!r:.200}")
    definition = SERVER_FRAMES.get(frame["type"])
    if definition is None:
        raise ValueError(f"No server frame is called {frame['type']!r}")
    # Strict: no coercion. Validation drops keys the definition does not name, so a
    # frame equal to its validated self has none extra, at any depth.
    if _adapter(frame["type"], definition).validate_python(frame, strict=True) != frame:
        raise ValueError(f"{frame['type']} frame has keys its definition lacks: {frame!r:.500}")
