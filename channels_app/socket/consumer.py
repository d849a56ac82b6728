"""The WebSocket endpoint of SPEC §4.

The consumer parses frames and forwards them to services and selectors; it decides no
access itself. Every frame reloads the user and asks permissions.access afresh, so a
deactivation or removal is seen by the next frame even if an event was lost.

Layer events arrive as the typed classes of exchange.kernel.events, and every frame sent
is one of channels_app.socket.server_frames. Two costs are avoided on the hot path of a
broadcast: the frame arrives already encoded (channels_app.messages.events) and is
forwarded as it is, and `dispatch` does not hop to
a worker thread to close database connections, because every ORM call here already
runs inside `database_sync_to_async`, which closes them before and after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError
from pydantic import BaseModel

from channels_app.evaluations.schemas import evaluation_value
from channels_app.keys import services as key_services
from channels_app.messages import selectors, services
from channels_app.messages.payloads import message_payload
from channels_app.messages.schemas import MessageOut
from channels_app.reports import services as reports
from channels_app.socket.frames import (
    MAX_FRAME_BYTES,
    DeleteFrame,
    EditFrame,
    FrameRefused,
    PingFrame,
    ReportFrame,
    SendFrame,
    SubscribeFrame,
    UnsubscribeFrame,
    parse_frame,
)
from channels_app.socket.selectors import channel_access_recheck
from channels_app.socket.server_frames import (
    ChannelRevokedFrame,
    ChannelRoleFrame,
    DoneFrame,
    EpochNewFrame,
    ErrorFrame,
    MessageAckFrame,
    PongFrame,
    ServerFrame,
    ShareAvailableFrame,
    SharesPendingFrame,
    SubscribedFrame,
    UnsubscribedFrame,
)
from exchange.kernel import ratelimit
from exchange.kernel.errors import NotAuthenticated, RateLimited, ServiceError, Unavailable
from exchange.kernel.events import (
    AccessChanged,
    BroadcastFrame,
    EpochNew,
    LayerEvent,
    MembersChanged,
    SessionEnded,
    ShareAvailable,
    TokenRevoked,
)
from exchange.kernel.fanout import local_fanout
from exchange.kernel.realtime import attach_to_running_loop, token_group, user_group
from permissions.access import ChannelAccess, Need, access_channel
from permissions.people.selectors import user_get_active, user_is_active
from permissions.sign_in.sessions import keep_alive

if TYPE_CHECKING:
    from permissions.models import User

logger = logging.getLogger(__name__)

# For a client that keeps sending after being told to wait. RFC 6455's 1008 ("policy
# violation") would say it, but autobahn, under daphne, lets an application close only
# with 1000 or 3000-4999 and raises on anything else (the client then sees 1011). So the
# private-use code 4000 + 1008's last digits, beside 4401 for an ended credential.
CLOSE_POLICY_VIOLATION = 4008
SESSION_TOUCH_SECONDS = 60
UNAVAILABLE = Unavailable("The database is unavailable; send the same frame again shortly.")


@dataclass
class Subscription:
    slug: str
    # The newest message id of the subscribe backlog (or `after`): a broadcast of a message
    # up to it raced with the backlog and was already sent. It stays put as broadcasts
    # arrive: a layer shared by several processes may deliver two of them out of commit
    # order, and the older one must still be delivered.
    watermark: int = 0
    # Broadcasts that arrive while the backlog is read, held until `subscribed` is sent.
    held: list[BroadcastFrame] | None = field(default_factory=list)
    # (admission role, is moderator) as last told to the client, to announce a change.
    role: tuple[str | None, bool] | None = None


def _load_user(user_id: int) -> User:
    return user_get_active(user_id=user_id)


def _client_id_of(text_data: str | None) -> str | None:
    """The `client_id` of a refused frame, if it has one, so that the client knows which
    send to retry; nothing else of the frame is looked at."""
    if text_data is None or len(text_data) > MAX_FRAME_BYTES:
        return None
    try:
        raw = json.loads(text_data)
    except (ValueError, RecursionError):
        return None
    client_id = raw.get("client_id") if isinstance(raw, dict) else None
    return client_id if isinstance(client_id, str) else None


def _ref_of(frame: BaseModel) -> str | None:
    """What an answer to `frame` carries as `ref`: its client_id, or the ref it gave."""
    for name in ("client_id", "ref"):
        value = getattr(frame, name, None)
        if value is not None:
            return str(value)
    return None


class ChannelSocket(AsyncWebsocketConsumer):
    user_id: int
    # Loaded once, for who the author is; whether the user may still act is asked of the
    # database on every frame by permissions.access.access_channel.
    user: User
    subscriptions: dict[int, Subscription]
    held_during_send: list[BroadcastFrame] | None = None
    # Set once the socket holds one of its user's MAX_SOCKETS_PER_USER slots.
    holds_slot = False
    slot_keeper: asyncio.Task[None] | None = None
    rate_limited_in_a_row = 0
    session_touched_at = 0.0  # time.monotonic() of the last keep_alive

    # --- connection ------------------------------------------------------------------

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.user_id = user.pk
        try:
            self.user = await database_sync_to_async(_load_user)(user.pk)
        except NotAuthenticated:
            await self.close()
            return
        if not await ratelimit.socket_slot_take(self.user_id, self.channel_name):
            logger.info(
                "socket of user %s refused: the cap on open sockets is reached", self.user_id
            )
            await self.close()  # before accept: over the cap, the handshake is refused
            return
        self.holds_slot = True
        self.slot_keeper = ratelimit.keep_slot_task(self.user_id, self.channel_name)
        self.subscriptions = {}
        attach_to_running_loop()
        await self.channel_layer.group_add(user_group(self.user_id), self.channel_name)
        if self.scope.get("token_id") is not None:
            await self.channel_layer.group_add(
                token_group(self.scope["token_id"]), self.channel_name
            )
        if self.scope.get("session_group"):
            await self.channel_layer.group_add(self.scope["session_group"], self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.slot_keeper is not None:
            self.slot_keeper.cancel()
        if self.holds_slot:
            self.holds_slot = False
            await ratelimit.socket_slot_release(self.user_id, self.channel_name)
        if not hasattr(self, "subscriptions"):
            return
        await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
        if self.scope.get("token_id") is not None:
            await self.channel_layer.group_discard(
                token_group(self.scope["token_id"]), self.channel_name
            )
        if self.scope.get("session_group"):
            await self.channel_layer.group_discard(self.scope["session_group"], self.channel_name)
        for channel_id in list(self.subscriptions):
            await self._drop(channel_id)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own `websocket.*` messages reach their handlers as they are; the
        layer events of exchange.kernel.events reach theirs parsed."""
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        event = LayerEvent.parse(message)
        await handler(message if event is None else event)

    async def send_json(self, frame: ServerFrame) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))

    # --- frames from the client ----------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        refusal = await ratelimit.frame_allowed(self.user_id)
        if refusal is not None:
            await self._refuse_for_rate(refusal, ref=_client_id_of(text_data))
            return
        self.rate_limited_in_a_row = 0
        await self._keep_session_alive()
        try:
            frame = parse_frame(text_data)
        except FrameRefused as refused:
            await self.send_error(refused.error, ref=refused.ref)
            return
        ref = _ref_of(frame)
        try:
            await getattr(self, "on_" + frame.type.replace(".", "_"))(frame)  # type: ignore[attr-defined]
        except NotAuthenticated:
            await self.close(code=4401)
        except ServiceError as exc:
            await self.send_error(exc, ref=ref)
        except (OperationalError, InterfaceError):
            # The database went away: nothing was committed, so no ack and no broadcast;
            # the socket stays open and the client resends the same client_id later.
            logger.warning("Database unavailable for a %s frame", frame.type, exc_info=True)  # type: ignore[attr-defined]
            await self.send_error(UNAVAILABLE, ref=ref)

    async def _keep_session_alive(self) -> None:
        """What the user does on a socket opened with a session counts as activity, as a
        page request does: push the session's idle expiry on, at most once a minute."""
        session_key = self.scope.get("session_key")
        now = time.monotonic()
        if session_key is None or now - self.session_touched_at < SESSION_TOUCH_SECONDS:
            return
        self.session_touched_at = now
        await database_sync_to_async(keep_alive)(session_key)

    async def _refuse_for_rate(self, refusal: ratelimit.Refusal, *, ref: str | None) -> None:
        """Tell the client to wait; close the socket of one that keeps on regardless."""
        self.rate_limited_in_a_row += 1
        if self.rate_limited_in_a_row > settings.WS_RATE_LIMITED_CLOSE_AFTER:
            logger.info("socket of user %s closed: kept sending while rate limited", self.user_id)
            await self.close(code=CLOSE_POLICY_VIOLATION)
            return
        await self.send_error(
            RateLimited(
                f"Too many frames; wait {refusal.retry_after} s.",
                retry_after=refusal.retry_after,
            ),
            ref=ref,
        )

    async def send_error(
        self, exc: ServiceError, *, ref: str | None = None, channel: str | None = None
    ) -> None:
        frame: ErrorFrame = {"type": "error", "code": exc.code, "message": exc.message}
        if ref:
            frame["ref"] = ref
        if channel:
            frame["channel"] = channel
        if exc.field:
            frame["field"] = exc.field
        if isinstance(exc, RateLimited):
            frame["retry_after"] = exc.retry_after
        await self.send_json(frame)

    async def on_ping(self, frame: PingFrame) -> None:
        pong: PongFrame = {"type": "pong"}
        await self.send_json(pong)

    async def on_subscribe(self, frame: SubscribeFrame) -> None:
        """Send the backlog, then live messages; and `shares.pending` at once if this user
        can deliver shares that members wait for (nobody has to click anything)."""
        try:
            access = await database_sync_to_async(self._check_read)(frame.channel)
        except NotAuthenticated:
            raise  # the account is gone: `receive` closes the socket
        except ServiceError as exc:
            await self.send_error(exc, channel=frame.channel)
            return
        channel_id = access.channel.pk
        # Listen before reading the backlog: a message committed in between is then both
        # in the backlog and broadcast (held until `subscribed` is out), and the watermark
        # drops the copy.
        subscription = self.subscriptions[channel_id] = Subscription(
            slug=frame.channel, role=(access.role, access.is_moderator)
        )
        await local_fanout().subscribe(channel_id, self)
        backlog = await database_sync_to_async(self._backlog)(access, frame.after)
        subscription.watermark = backlog[-1]["id"] if backlog else frame.after or 0
        subscribed: SubscribedFrame = {
            "type": "subscribed",
            "channel": frame.channel,
            "messages": backlog,
        }
        await self.send_json(subscribed)
        held, subscription.held = subscription.held or [], None
        for event in held:
            await self.broadcast_frame(event)
        if await database_sync_to_async(self._can_deliver)(channel_id):
            await self._shares_pending(frame.channel)

    def _check_read(self, slug: str) -> ChannelAccess:
        return access_channel(self.user, slug, Need.READ)

    def _backlog(self, access: ChannelAccess, after: int | None) -> list[MessageOut]:
        messages = selectors.message_list(access, after=after, limit=selectors.MAX_PAGE)
        return [message_payload(m) for m in messages]

    async def on_unsubscribe(self, frame: UnsubscribeFrame) -> None:
        for channel_id, sub in list(self.subscriptions.items()):
            if sub.slug == frame.channel:
                await self._drop(channel_id)
        unsubscribed: UnsubscribedFrame = {"type": "unsubscribed", "channel": frame.channel}
        await self.send_json(unsubscribed)

    async def on_message_send(self, frame: SendFrame) -> None:
        # Broadcasts reach this socket from the process's fan-out task, concurrently with
        # this handler: hold them until the ack is out, so the sender sees its ack first.
        self.held_during_send = []
        try:
            message, _ = await database_sync_to_async(self._send)(frame)
            ack: MessageAckFrame = {
                "type": "message.ack",
                "client_id": str(frame.client_id),
                "message": message,
            }
            await self.send_json(ack)
        finally:
            held, self.held_during_send = self.held_during_send, None
            for event in held:
                await self.broadcast_frame(event)

    def _send(self, frame: SendFrame) -> tuple[MessageOut, bool]:
        message, created = services.message_send(
            actor=self.user,
            channel_slug=frame.channel,
            client_id=frame.client_id,
            body=frame.body,
            parent=frame.parent,
            attachments=frame.attachments,
            handling_code=frame.handling_code,
            evaluation=evaluation_value(frame.evaluation),
        )
        return message_payload(message), created

    async def on_message_edit(self, frame: EditFrame) -> None:
        message = await database_sync_to_async(self._edit)(frame)
        await self._done(frame, message=message)

    def _edit(self, frame: EditFrame) -> MessageOut:
        return message_payload(
            services.message_edit(
                actor=self._fresh_user(),
                message_id=frame.message,
                body=frame.body,
                evaluation=frame.evaluation_change(),
            )
        )

    async def on_message_delete(self, frame: DeleteFrame) -> None:
        message = await database_sync_to_async(self._delete)(frame)
        await self._done(frame, message=message)

    def _delete(self, frame: DeleteFrame) -> MessageOut:
        return message_payload(
            services.message_delete(actor=self._fresh_user(), message_id=frame.message)
        )

    async def on_message_report(self, frame: ReportFrame) -> None:
        report_id = await database_sync_to_async(self._report)(frame)
        await self._done(frame, report=report_id)

    def _report(self, frame: ReportFrame) -> int:
        return reports.report_file(
            actor=self._fresh_user(), message_id=frame.message, reason=frame.reason
        ).pk

    def _fresh_user(self) -> User:
        """The user as the database has them now, for services that check access through
        the ORM (`channel_access` reads the institution from the user object)."""
        return _load_user(self.user_id)

    async def _done(
        self,
        frame: EditFrame | DeleteFrame | ReportFrame,
        *,
        message: MessageOut | None = None,
        report: int | None = None,
    ) -> None:
        """Answer a frame about one message: `done`, naming the frame and echoing `ref`."""
        answer: DoneFrame = {"type": "done", "of": frame.type}
        if message is not None:
            answer["message"] = message
        if report is not None:
            answer["report"] = report
        if frame.ref is not None:
            answer["ref"] = frame.ref
        await self.send_json(answer)

    # --- events from the channel layer ---------------------------------------------

    async def broadcast_frame(self, event: BroadcastFrame) -> None:
        sub = self.subscriptions.get(event.channel_id)
        if sub is None:
            return  # unsubscribed or revoked while the event was in flight
        if sub.held is not None:
            sub.held.append(event)
            return
        if self.held_during_send is not None:
            self.held_during_send.append(event)
            return
        message_id = event.message_id
        if message_id is not None and message_id <= sub.watermark:
            return  # already in the subscribe backlog
        await self.send(text_data=event.text)

    async def access_changed(self, event: AccessChanged) -> None:
        """Re-check access after an admission, ban or deactivation touched this user.

        A subscription the user lost ends with `channel.revoked`; one they keep with a
        changed role (say, a downgrade to observer) gets `channel.role`, so the client
        stops offering what the server would now refuse.
        """
        changed = event.channel_id
        targets = [changed] if changed is not None else list(self.subscriptions)
        lost, kept = await database_sync_to_async(self._recheck)(
            [t for t in targets if t in self.subscriptions]
        )
        for channel_id in lost:
            slug = self.subscriptions[channel_id].slug
            await self._drop(channel_id)
            revoked: ChannelRevokedFrame = {"type": "channel.revoked", "channel": slug}
            await self.send_json(revoked)
        for channel_id, access in kept.items():
            subscription = self.subscriptions[channel_id]
            role = (access.role, access.is_moderator)
            if subscription.role is not None and subscription.role != role:
                changed_role: ChannelRoleFrame = {
                    "type": "channel.role",
                    "channel": subscription.slug,
                    "role": access.role,
                    "is_moderator": access.is_moderator,
                }
                await self.send_json(changed_role)
            subscription.role = role
        if changed is None and not await database_sync_to_async(self._still_active)():
            await self.close(code=4401)

    def _recheck(self, channel_ids: list[int]) -> tuple[list[int], dict[int, ChannelAccess]]:
        return channel_access_recheck(user_id=self.user_id, channel_ids=channel_ids)

    async def token_revoked(self, event: TokenRevoked) -> None:
        """The bearer token this socket was opened with was revoked."""
        await self.close(code=4401)

    async def session_ended(self, event: SessionEnded) -> None:
        """The session this socket was opened with ended (sign-out, absolute lifetime), or
        the user's password changed: close at once (permissions.sign_in.sessions, ws_auth)."""
        await self.close(code=4401)

    async def epoch_new(self, event: EpochNew) -> None:
        sub = self.subscriptions.get(event.channel_id)
        if sub is not None:
            frame: EpochNewFrame = {"type": "epoch.new", "channel": sub.slug, "epoch": event.epoch}
            await self.send_json(frame)

    async def share_available(self, event: ShareAvailable) -> None:
        frame: ShareAvailableFrame = {
            "type": "share.available",
            "channel": event.slug,
            "epoch": event.epoch,
        }
        await self.send_json(frame)

    async def members_changed(self, event: MembersChanged) -> None:
        """Someone joined, left or registered a key: if this socket's user holds the current
        channel key and members wait for it, ask the client to deliver their shares."""
        sub = self.subscriptions.get(event.channel_id)
        if sub is not None and await database_sync_to_async(self._can_deliver)(event.channel_id):
            await self._shares_pending(sub.slug)

    async def _shares_pending(self, slug: str) -> None:
        frame: SharesPendingFrame = {"type": "shares.pending", "channel": slug}
        await self.send_json(frame)

    def _can_deliver(self, channel_id: int) -> bool:
        return key_services.user_can_deliver(user_id=self.user_id, channel_id=channel_id)

    def _still_active(self) -> bool:
        return user_is_active(user_id=self.user_id)

    async def _drop(self, channel_id: int) -> None:
        self.subscriptions.pop(channel_id, None)
        await local_fanout().unsubscribe(channel_id, self)
