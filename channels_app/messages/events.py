"""What sockets are told about messages, scheduled after the commit that made it true.

Each frame is encoded to JSON text once here, not once per subscriber: the consumer
forwards the text as it is (see consumers.ChannelSocket.broadcast_frame).
"""

from __future__ import annotations

import json

from channels_app.messages.payloads import message_payload
from channels_app.messages.schemas import MessageOut
from channels_app.models import Message
from exchange.kernel.realtime import channel_group, send_on_commit


def _frame_text(frame_type: str, payload: MessageOut) -> str:
    return json.dumps({"type": frame_type, "message": payload}, separators=(",", ":"))


def message_event_on_commit(frame_type: str, message: Message) -> None:
    """Broadcast `message.new`, `message.updated` or `message.deleted` after commit."""
    payload = message_payload(message)
    send_on_commit(
        channel_group(message.channel_id),
        {
            "type": "broadcast.frame",
            "channel_id": message.channel_id,
            # Lets a socket drop a `message.new` it already sent in its subscribe backlog.
            "message_id": message.pk if frame_type == "message.new" else None,
            "text": _frame_text(frame_type, payload),
        },
    )
