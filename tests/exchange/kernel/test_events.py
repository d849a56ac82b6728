"""The typed channel-layer events of exchange.kernel.events: what a sender builds is what
the consumer gets back, and a message the layer cannot map is refused loudly."""

from __future__ import annotations

import pytest

from exchange.kernel.events import (
    EVENTS,
    AccessChanged,
    BroadcastFrame,
    EpochNew,
    LayerEvent,
    MembersChanged,
    SessionEnded,
    ShareAvailable,
    TokenRevoked,
)

EXAMPLES: list[LayerEvent] = [
    BroadcastFrame(channel_id=3, message_id=None, text='{"type":"message.deleted"}'),
    BroadcastFrame(channel_id=3, message_id=9, text='{"type":"message.new"}'),
    AccessChanged(channel_id=3),
    AccessChanged(channel_id=None),
    MembersChanged(channel_id=3),
    EpochNew(channel_id=3, epoch=2),
    ShareAvailable(channel_id=3, slug="ops", epoch=2),
    TokenRevoked(),
    SessionEnded(),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type)
def test_an_event_survives_the_trip_through_the_layer(event: LayerEvent) -> None:
    message = event.as_layer_message()
    assert message["type"] == event.type
    assert LayerEvent.parse(message) == event


def test_every_registered_event_has_an_example() -> None:
    assert {e.type for e in EXAMPLES} == set(EVENTS)


def test_layer_messages_use_the_dotted_names_the_consumer_handles() -> None:
    """Channels maps `access.changed` to the handler `access_changed`."""
    from channels_app.socket.consumer import ChannelSocket

    for name in EVENTS:
        assert "." in name
        assert callable(getattr(ChannelSocket, name.replace(".", "_")))


def test_keys_the_layer_adds_are_ignored_and_missing_ones_refused() -> None:
    message = {"type": "epoch.new", "channel_id": 3, "epoch": 2, "__asgi_channel__": "x"}
    assert LayerEvent.parse(message) == EpochNew(channel_id=3, epoch=2)
    with pytest.raises(KeyError):
        LayerEvent.parse({"type": "epoch.new", "channel_id": 3})


def test_a_message_that_is_not_a_layer_event_parses_to_none() -> None:
    assert LayerEvent.parse({"type": "websocket.receive", "text": "{}"}) is None


def test_events_are_frozen() -> None:
    event = AccessChanged(channel_id=3)
    with pytest.raises(AttributeError):
        event.channel_id = 4  # type: ignore[misc]
