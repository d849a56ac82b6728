"""The events services send on the channel layer, one frozen dataclass per kind.

The layer carries plain dicts (msgpack between processes), keyed by a dotted `type` that
Channels maps to a consumer handler (`access.changed` -> `access_changed`). Senders build
an event class and `as_layer_message()` turns it into that dict; the socket consumer turns
an incoming dict back with `parse()`, so both sides share one definition and a field that
is renamed on one side fails on the other at once. They live in the kernel because
permissions sends some of them and must not import channels_app.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

E = TypeVar("E", bound="LayerEvent")

EVENTS: dict[str, type[LayerEvent]] = {}


@dataclass(frozen=True, slots=True)
class LayerEvent:
    type: ClassVar[str]
    _fields: ClassVar[tuple[str, ...]] = ()

    def as_layer_message(self) -> dict[str, Any]:
        """The dict to hand to `group_send`."""
        message: dict[str, Any] = {"type": self.type}
        for name in self._fields:
            message[name] = getattr(self, name)
        return message

    @staticmethod
    def parse(message: Mapping[str, Any]) -> LayerEvent | None:
        """The event a layer message carries; None for a type that is not one of ours
        (Channels' own `websocket.*` messages reach the same dispatch). Keys the layer adds
        of its own are ignored; a missing field raises KeyError."""
        kind = EVENTS.get(message["type"])
        if kind is None:
            return None
        return kind(**{name: message[name] for name in kind._fields})


def _event(cls: type[E]) -> type[E]:
    """Register an event class under its `type`, once its dataclass fields are known."""
    if cls.type in EVENTS:
        raise TypeError(f"Two layer events are called {cls.type!r}")
    cls._fields = tuple(f.name for f in dataclasses.fields(cls))
    EVENTS[cls.type] = cls
    return cls


@_event
@dataclass(frozen=True, slots=True)
class BroadcastFrame(LayerEvent):
    """A frame for every subscriber of a channel, encoded once by the sender
    (channels_app.messages.events): the socket forwards `text` as it is."""

    type: ClassVar[str] = "broadcast.frame"
    channel_id: int
    # Lets a socket drop a `message.new` it already sent in its subscribe backlog.
    message_id: int | None
    text: str

    def as_layer_message(self) -> dict[str, Any]:
        # Spelled out: this one is sent for every message, the generic loop is not needed.
        return {
            "type": "broadcast.frame",
            "channel_id": self.channel_id,
            "message_id": self.message_id,
            "text": self.text,
        }


@_event
@dataclass(frozen=True, slots=True)
class AccessChanged(LayerEvent):
    """To a user's sockets: an admission, ban, request answer or deactivation touched them;
    re-check `channel_id`, or every subscription when None."""

    type: ClassVar[str] = "access.changed"
    channel_id: int | None


@_event
@dataclass(frozen=True, slots=True)
class MembersChanged(LayerEvent):
    """To a channel's sockets: its members or their keys changed, so holders of the
    current key may have shares to deliver."""

    type: ClassVar[str] = "members.changed"
    channel_id: int


@_event
@dataclass(frozen=True, slots=True)
class EpochNew(LayerEvent):
    """To a channel's sockets: epoch `epoch` was started."""

    type: ClassVar[str] = "epoch.new"
    channel_id: int
    epoch: int


@_event
@dataclass(frozen=True, slots=True)
class ShareAvailable(LayerEvent):
    """To one user's sockets: a key share of `epoch` waits for them (subscribed or not,
    hence the slug)."""

    type: ClassVar[str] = "share.available"
    channel_id: int
    slug: str
    epoch: int


@_event
@dataclass(frozen=True, slots=True)
class TokenRevoked(LayerEvent):
    """To the sockets opened with one bearer token: it was revoked, or it (or its user's
    certification) ran out; close them."""

    type: ClassVar[str] = "token.revoked"


@_event
@dataclass(frozen=True, slots=True)
class SessionEnded(LayerEvent):
    """To the sockets of a session or a user: signed out, expired or the password
    changed; close them."""

    type: ClassVar[str] = "session.ended"
