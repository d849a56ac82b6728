"""What sockets are told about messages, scheduled after the commit that made it true.

Each frame is encoded to JSON text once here, not once per subscriber: the consumer
forwards the text as it is (see channels_app.socket.consumer.ChannelSocket.broadcast_frame).
"""

from __future__ import annotations

import json
from typing import Literal

from channels_app.messages.payloads import message_payload
from channels_app.models import Message
from channels_app.socket.server_frames import MessageChangeFrame
from exchange.kernel.events import BroadcastFrame
from exchange.kernel.realtime import channel_group, send_on_commit


def message_event_on_commit(
    frame_type: Literal["message.new", "message.updated", "message.deleted"], message: Message
) -> None:
    """Broadcast `message.new`, `message.updated` or `message.deleted` after commit."""
    frame: MessageChangeFrame = {"type": frame_type, "message": message_payload(message)}
    send_on_commit(
        channel_group(message.channel_id),
        BroadcastFrame(
            channel_id=message.channel_id,
            message_id=message.pk if frame_type == "message.new" else None,
            text=json.dumps(frame, separators=(",", ":")),
        ),
    )
