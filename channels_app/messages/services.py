"""Writes about what is said: sending, editing and deleting messages.

Every service checks the caller through permissions.access, validates across models,
writes in one transaction and schedules the broadcast after commit. The HTTP API and the
WebSocket consumer call these same functions, so a rule is written once.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.chain import record
from channels_app.attachments.services import attachments_for_message
from channels_app.evaluations.pair import (
    KEEP,
    Evaluation,
    Keep,
    clean_evaluation,
    stored,
)
from channels_app.evaluations.services import evaluation_change, evaluation_record
from channels_app.messages.events import message_event_on_commit
from channels_app.messages.markdown import render_markdown
from channels_app.messages.schemas import MAX_BODY
from channels_app.messages.selectors import with_related
from channels_app.models import Attachment, Channel, HandlingCode, Message
from exchange.kernel.errors import BadRequest, Conflict, Forbidden
from permissions.access import (
    ChannelAccess,
    Need,
    access_channel,
    may_post_subquery,
    may_read_from,
    message_by_id,
    require,
)
from permissions.models import User


def _clean_body(body: str, *, allow_empty: bool) -> str:
    if not isinstance(body, str):
        raise BadRequest("body must be a string.", field="body")
    if len(body) > MAX_BODY:
        raise BadRequest(f"body is longer than {MAX_BODY} characters.", field="body")
    if "\x00" in body:
        raise BadRequest("body may not contain NUL characters.", field="body")
    if not allow_empty and not body.strip():
        raise BadRequest("body may not be empty.", field="body")
    return body


def clean_handling_code(channel: Channel, code: str | None) -> str:
    """The handling code (TLP:AMBER when none), refused when above the channel's highest:
    messages and documents alike."""
    if code is None:
        code = HandlingCode.AMBER
    if code not in HandlingCode.values:
        raise BadRequest(
            f"Unknown handling code {code!r}; one of {', '.join(HandlingCode.values)}.",
            field="handling_code",
        )
    if HandlingCode.rank(code) > HandlingCode.rank(channel.max_handling_code):
        raise BadRequest(
            f"This channel accepts content up to {channel.max_handling_code}.",
            field="handling_code",
        )
    return code


def _thread_root(access: ChannelAccess, parent_id: int | None) -> int | None:
    """Replies attach to the thread's root, so threads are one level deep. A parent the
    sender may not read (sent before their institution joined a since_join channel) is
    refused exactly as one that does not exist: its existence is as secret as its text."""
    if parent_id is None:
        return None
    parent = (
        Message.objects.filter(pk=parent_id, channel_id=access.channel.pk)
        .only("pk", "parent_id", "created_at")
        .first()
    )
    if parent is None or not may_read_from(access, parent.created_at):
        raise BadRequest("parent is not a message of this channel.", field="parent")
    return parent.parent_id or parent.pk


def _load(message_id: int) -> Message:
    return with_related(Message.objects).get(pk=message_id)


def message_send(
    *,
    actor: User,
    channel_slug: str,
    client_id: UUID,
    body: str,
    parent: int | None = None,
    attachments: list[int] | None = None,
    handling_code: str | None = None,
    evaluation: Evaluation | None = None,
) -> tuple[Message, bool]:
    """Store a message and broadcast it after commit; returns (message, created).

    Idempotent per (author, client_id): a repeat returns the stored message and stores
    nothing. The repeat is recognised by the unique constraint, not by a lookup first:
    repeats are rare, and every send would pay for the lookup. The channel row is locked
    while the message takes the next `seq`, so seq numbers have no gaps and follow commit
    order even with concurrent senders.
    """
    plain = not attachments and parent is None and evaluation is None
    if connection.vendor == "postgresql" and plain:
        sent = _send_checked_in_one_statement(actor, channel_slug, client_id, body, handling_code)
        if sent is not None:
            return sent
    access = access_channel(actor, channel_slug, Need.POST)
    channel = access.channel
    body = _clean_body(body, allow_empty=bool(attachments))
    code = clean_handling_code(channel, handling_code)
    evaluation = clean_evaluation(evaluation)
    if channel.archived:
        raise Conflict("This channel is archived and accepts no new messages.")
    root = _thread_root(access, parent)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                channel=channel,
                seq=_next_seq(channel),
                author=actor,
                client_id=client_id,
                parent_id=root,
                body=body,
                html=render_markdown(body),
                handling_code=code,
                **stored(evaluation),
            )
            if evaluation is not None:
                evaluation_record(carrier=message, actor=actor, value=evaluation)
            if attachments:
                carried = attachments_for_message(
                    actor=actor, channel_id=channel.pk, ids=attachments
                )
                Attachment.objects.filter(pk__in=[a.pk for a in carried]).update(message=message)
                message = _load(message.pk)
            else:
                message.channel = channel
                # Nothing to prefetch: spare the payload a query for attachments.
                message._prefetched_objects_cache = {"attachments": Attachment.objects.none()}  # type: ignore[attr-defined]
            message_event_on_commit("message.new", message)
    except IntegrityError:
        # A resend, or the same client_id racing in from another connection.
        existing = _existing(actor, client_id, channel)
        if existing is None:
            raise
        return existing, False
    return message, True


def _send_checked_in_one_statement(
    actor: User, channel_slug: str, client_id: UUID, body: str, handling_code: str | None
) -> tuple[Message, bool] | None:
    """PostgreSQL's path for a plain message (no attachments, not a reply): the access
    check, the next `seq` and the insert in one statement, one round trip.

    The check is `permissions.access.may_post_subquery`, the guard's own SQL; with it the
    channel must not be archived and must allow the handling code. When the statement
    stores nothing (refused, or a repeated client_id), None sends the caller down the
    general path, which says exactly why or returns the stored message: the fast path
    decides nothing that path would decide otherwise. (SQLite allows no UPDATE inside a
    WITH, so it always takes the general path, a transaction.)
    """
    try:
        body = _clean_body(body, allow_empty=False)
    except BadRequest:
        return None  # the general path checks access first, then says what is wrong
    code = handling_code if handling_code is not None else HandlingCode.AMBER
    if code not in HandlingCode.values:
        return None
    guard, guard_params = may_post_subquery(actor, channel_slug)
    ranks = " ".join(
        f"WHEN '{value}' THEN {rank}" for rank, value in enumerate(HandlingCode.values)
    )
    html = render_markdown(body)
    created_at = timezone.now()
    messages = connection.ops.quote_name(Message._meta.db_table)
    channels = connection.ops.quote_name(Channel._meta.db_table)
    sql = f"""
        WITH allowed AS ({guard}),
        next AS (
            UPDATE {channels} SET last_seq = last_seq + 1
            WHERE id = (SELECT id FROM allowed
                        WHERE NOT archived
                          AND %s <= CASE max_handling_code {ranks} ELSE -1 END)
            RETURNING id, last_seq
        )
        INSERT INTO {messages} (channel_id, seq, author_id, client_id, parent_id, body, html,
                                handling_code, created_at, source_reliability,
                                information_assessment)
        SELECT next.id, next.last_seq, %s, %s, NULL, %s, %s, %s, %s, '', NULL FROM next
        RETURNING id, seq, channel_id
    """  # noqa: S608  (names from model metadata and HandlingCode; values are parameters)
    params: list[Any] = [
        *guard_params, HandlingCode.rank(code), actor.pk, client_id, body, html, code, created_at
    ]  # fmt: skip
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            if row is None:
                return None
            message_id, seq, channel_id = row
            message = Message(
                pk=message_id,
                channel=Channel(pk=channel_id, slug=channel_slug),
                seq=seq,
                author=actor,
                client_id=client_id,
                parent_id=None,
                body=body,
                html=html,
                handling_code=code,
                created_at=created_at,
            )
            message._prefetched_objects_cache = {"attachments": Attachment.objects.none()}  # type: ignore[attr-defined]
            message_event_on_commit("message.new", message)
    except IntegrityError:
        return None  # a repeat: the general path finds the stored message
    return message, True


def _next_seq(channel: Channel) -> int:
    """Take the channel's next seq, locking its row until the transaction ends.

    One UPDATE … RETURNING (PostgreSQL, SQLite ≥ 3.35): the row lock it takes orders
    concurrent senders, so seq numbers follow commit order with no gaps.
    """
    table = connection.ops.quote_name(Channel._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",  # noqa: S608
            [channel.pk],
        )
        (seq,) = cursor.fetchone()
    return int(seq)


def _existing(actor: User, client_id: UUID, channel: Channel) -> Message | None:
    existing = with_related(Message.objects).filter(author=actor, client_id=client_id).first()
    if existing is not None and existing.channel_id != channel.pk:
        raise Conflict("This client_id was already used for a message in another channel.")
    return existing


def message_edit(
    *,
    actor: User,
    message_id: int,
    body: str | None = None,
    evaluation: Evaluation | Keep | None = KEEP,
) -> Message:
    """The author edits their own message while they may still post in its channel: its
    body, its evaluation (None withdraws it; every change is kept), or both at once."""
    if body is None and evaluation is KEEP:
        raise BadRequest("Send a new body, a new evaluation, or both.", field="body")
    message, access = message_by_id(actor, message_id)
    require(access, Need.POST)  # only a reader learns that they may not post
    if message.author_id != actor.pk:
        raise Forbidden("Only the author may edit a message.")
    if message.deleted_at is not None:
        raise Conflict("A deleted message cannot be edited.")
    changes: dict[str, Any] = {}
    if body is not None:
        body = _clean_body(body, allow_empty=False)
        changes.update(body=body, html=render_markdown(body), edited_at=timezone.now())
    evaluation = evaluation_change(message, evaluation)
    if evaluation is not KEEP:
        changes.update(stored(evaluation))
    if not changes:
        return _load(message.pk)
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(**changes)
        if evaluation is not KEEP:
            evaluation_record(carrier=message, actor=actor, value=evaluation)
        message = _load(message.pk)
        message_event_on_commit("message.updated", message)
    return message


def message_delete(*, actor: User, message_id: int) -> Message:
    """Delete a message, leaving a tombstone: the author who may post, or a moderator."""
    message, access = message_by_id(actor, message_id)
    if message.author_id == actor.pk:
        require(access, Need.POST)
    else:
        require(access, Need.MODERATE)
    if message.deleted_at is not None:
        return _load(message.pk)
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(body="", html="", deleted_at=timezone.now())
        by_moderator = message.author_id != actor.pk
        record(
            action="message.deleted_by_moderator" if by_moderator else "message.deleted",
            actor=actor,
            channel=message.channel,
            target=f"message:{message.pk}",
            data={"seq": message.seq, "author_id": message.author_id},
        )
        message = _load(message.pk)
        message_event_on_commit("message.deleted", message)
    return message
