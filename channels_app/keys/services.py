"""Key material the server keeps for end-to-end encrypted attachments (SPEC §5): identity
keys, recovery backups, channel epochs and their key shares.

Everything here is public keys or ciphertext; the server can check shapes and who may
hand what to whom, never read a key. Each service checks access through
permissions.access and announces changes after commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.chain import record
from channels_app.keys.ciphertext import clean_age_file, clean_recipient
from channels_app.keys.selectors import current_epoch
from channels_app.messages.selectors import current_keys
from channels_app.models import Channel, Epoch, HistoryVisibility, IdentityKey, KeyBackup, KeyShare
from exchange.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from exchange.kernel.events import EpochNew, ShareAvailable
from exchange.kernel.realtime import (
    channel_group,
    members_changed_on_commit,
    send_on_commit,
    user_group,
)
from permissions.access import (
    ChannelAccess,
    Need,
    access_channel,
    channel_access,
    channel_access_many,
)
from permissions.models import User

MAX_BACKUP_BYTES = 16 * 1024
MAX_SHARE_BYTES = 4 * 1024


@dataclass(frozen=True)
class ShareDraft:
    username: str
    ciphertext: bytes
    epoch: int | None = None


def identity_key_set(*, actor: User, public_key: str) -> IdentityKey:
    """Register the actor's identity key; a new key replaces the current one.

    Channels the actor belongs to are told, so members' clients deliver the shares the
    new key is missing.
    """
    public_key = clean_recipient(public_key)
    with transaction.atomic():
        current = (
            IdentityKey.objects.select_for_update()
            .filter(user=actor, replaced_at__isnull=True)
            .first()
        )
        if current is not None and current.public_key == public_key:
            return current
        if current is not None:
            current.replaced_at = timezone.now()
            current.save(update_fields=["replaced_at"])
        key = IdentityKey.objects.create(user=actor, public_key=public_key)
        record(
            action="identity_key.registered",
            actor=actor,
            target=f"user:{actor.username}",
            data={"replaced_previous": current is not None},
        )
        channels = list(Channel.objects.all())
        for channel_id, access in channel_access_many(actor, channels).items():
            if access.can_read:
                members_changed_on_commit(channel_id)
    return key


def identity_key_of(user: User) -> IdentityKey | None:
    return IdentityKey.objects.filter(user=user, replaced_at__isnull=True).first()


def key_backup_set(*, actor: User, backup: bytes) -> KeyBackup:
    """Keep the actor's identity, encrypted under their recovery key (age scrypt)."""
    if len(backup) > MAX_BACKUP_BYTES:
        raise BadRequest(f"A backup is at most {MAX_BACKUP_BYTES} bytes.", field="backup")
    clean_age_file(backup, field="backup", stanza="scrypt")
    with transaction.atomic():
        stored, created = KeyBackup.objects.update_or_create(user=actor, defaults={"data": backup})
        record(
            action="key_backup.stored",
            actor=actor,
            target=f"user:{actor.username}",
            data={"replaced_previous": not created},
        )
    return stored


def key_backup_of(user: User) -> KeyBackup | None:
    return KeyBackup.objects.filter(user=user).first()


def _clean_share(ciphertext: bytes, *, field: str) -> bytes:
    if len(ciphertext) > MAX_SHARE_BYTES:
        raise BadRequest(f"A key share is at most {MAX_SHARE_BYTES} bytes.", field=field)
    clean_age_file(ciphertext, field=field)
    return ciphertext


def epoch_create(
    *,
    actor: User,
    channel_slug: str,
    number: int,
    public_key: str,
    back_link: bytes | None,
    shares: list[ShareDraft],
) -> Epoch:
    """Start epoch `number` of a channel with a share for every keyed member.

    Members may start epoch 1 and the epoch after a stale one; otherwise only moderators
    rotate. The shares must cover exactly the members who have a key: 409 with the
    `missing` and `unexpected` usernames otherwise.
    """
    access = access_channel(actor, channel_slug, Need.READ)
    channel = access.channel
    public_key = clean_recipient(public_key)
    if back_link is not None:
        if len(back_link) > MAX_SHARE_BYTES:
            raise BadRequest("back_link is too large.", field="back_link")
        clean_age_file(back_link, field="back_link")
    drafts = {d.username: _clean_share(d.ciphertext, field="shares") for d in shares}
    if len(drafts) != len(shares):
        raise BadRequest("Each member appears once in shares.", field="shares")
    try:
        with transaction.atomic():
            Channel.objects.select_for_update().filter(pk=channel.pk).first()
            current = current_epoch(channel)
            expected = current.number + 1 if current else 1
            if number != expected:
                raise Conflict(f"The next epoch of this channel is {expected}.", expected=expected)
            if not (expected == 1 or (current and current.stale) or access.can_moderate):
                raise Forbidden("Only moderators rotate a channel key that is not stale.")
            needs_back_link = (
                current is not None and channel.history_visibility == HistoryVisibility.ALL
            )
            if needs_back_link and back_link is None:
                raise BadRequest(
                    "A channel that shows all history needs a back_link.", field="back_link"
                )
            keys = current_keys(channel)
            missing = sorted(set(keys) - set(drafts))
            unexpected = sorted(set(drafts) - set(keys))
            if missing or unexpected:
                raise Conflict(
                    "The shares must cover exactly the members who have a key.",
                    missing=missing,
                    unexpected=unexpected,
                )
            epoch = Epoch.objects.create(
                channel=channel,
                number=number,
                public_key=public_key,
                back_link=back_link,
                created_by=actor,
            )
            users = dict(User.objects.filter(username__in=drafts).values_list("username", "pk"))
            KeyShare.objects.bulk_create(
                KeyShare(
                    epoch=epoch,
                    user_id=users[username],
                    recipient=keys[username],
                    ciphertext=ciphertext,
                    delivered_by=actor,
                )
                for username, ciphertext in drafts.items()
            )
            record(
                action="epoch.created",
                actor=actor,
                channel=channel,
                target=f"epoch:{channel.slug}/{number}",
                data={
                    "epoch": number,
                    "recipients": sorted(drafts),
                    "rotated_stale": bool(current and current.stale),
                },
            )
            send_on_commit(
                channel_group(channel.pk),
                EpochNew(channel_id=channel.pk, epoch=number),
            )
            for user_id in users.values():
                _announce_share(user_id, channel, number)
    except IntegrityError:
        raise Conflict(f"Epoch {number} was just started by someone else.") from None
    return epoch


def _announce_share(user_id: int, channel: Channel, number: int) -> None:
    send_on_commit(
        user_group(user_id),
        ShareAvailable(channel_id=channel.pk, slug=channel.slug, epoch=number),
    )


def share_of(access: ChannelAccess, number: int) -> KeyShare:
    """The caller's share of epoch `number`, made for their current key."""
    key = identity_key_of(access.user)
    share = None
    if key is not None:
        share = KeyShare.objects.filter(
            epoch__channel=access.channel,
            epoch__number=number,
            user=access.user,
            recipient=key.public_key,
        ).first()
    if share is None:
        raise NotFound("No key share for you in this epoch yet.")
    return share


@dataclass(frozen=True)
class PendingShare:
    epoch: int
    username: str
    public_key: str


def shares_pending(channel: Channel) -> list[PendingShare]:
    """Members with a key but no share of the current epoch for it. A stale epoch is
    about to be replaced, so nobody waits for a share of it."""
    epoch = current_epoch(channel)
    if epoch is None or epoch.stale:
        return []
    have = set(epoch.shares.values_list("user__username", "recipient"))
    return [
        PendingShare(epoch=epoch.number, username=username, public_key=key)
        for username, key in current_keys(channel).items()
        if (username, key) not in have
    ]


def shares_deliver(*, actor: User, channel_slug: str, shares: list[ShareDraft]) -> int:
    """Store shares a member's client made for members still waiting; returns how many
    were new. Each must be for a pending (epoch, member); anything else is a 409."""
    channel = access_channel(actor, channel_slug, Need.READ).channel
    cleaned = [(d, _clean_share(d.ciphertext, field="shares")) for d in shares]
    with transaction.atomic():
        pending = {(p.epoch, p.username): p.public_key for p in shares_pending(channel)}
        unexpected = sorted(
            {d.username for d, _ in cleaned if (d.epoch, d.username) not in pending}
        )
        if unexpected:
            raise Conflict(
                "Some shares are for members who are not waiting for one.", unexpected=unexpected
            )
        epochs = {e.number: e for e in Epoch.objects.filter(channel=channel)}
        users = dict(
            User.objects.filter(username__in=[d.username for d, _ in cleaned]).values_list(
                "username", "pk"
            )
        )
        created = 0
        delivered: list[list[object]] = []
        for draft, ciphertext in cleaned:
            assert draft.epoch is not None  # noqa: S101  (checked against pending above)
            _, made = KeyShare.objects.get_or_create(
                epoch=epochs[draft.epoch],
                user_id=users[draft.username],
                recipient=pending[(draft.epoch, draft.username)],
                defaults={"ciphertext": ciphertext, "delivered_by": actor},
            )
            if made:
                created += 1
                delivered.append([draft.epoch, draft.username])
                _announce_share(users[draft.username], channel, draft.epoch)
        if delivered:
            record(
                action="shares.delivered",
                actor=actor,
                channel=channel,
                target=f"channel:{channel.slug}",
                data={"shares": delivered},
            )
    return created


def user_can_deliver(*, user_id: int, channel_id: int) -> bool:
    """True when the user holds a share of the channel's current epoch and somebody is
    waiting for one: their client is then asked to deliver (SPEC §5, Joining). Also when
    that epoch is stale: the remaining members wait for the next epoch, which a client
    holding the stale one can start with a back-link to it (SPEC §5, Leaving)."""
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        return False
    user = User.objects.select_related("institution").filter(pk=user_id).first()
    if user is None or not channel_access(user, channel).can_read:
        return False  # removed in the very change that made the others wait
    epoch = current_epoch(channel)
    if epoch is None or not epoch.shares.filter(user_id=user_id).exists():
        return False
    return epoch.stale or bool(shares_pending(channel))


def epoch_mark_stale(*, channel: Channel, actor: User | None, reason: str) -> None:
    """Mark the channel's current epoch stale (once), audited: someone who held its key
    lost access, so the next message must wait for a new epoch (SPEC §5). Called in the
    transaction of the change that took the access (channels_app/keys/receivers.py)."""
    current = current_epoch(channel)
    if current is None or current.stale:
        return
    current.stale = True
    current.save(update_fields=["stale"])
    record(
        action="epoch.stale",
        actor=actor,
        channel=channel,
        target=f"epoch:{channel.slug}/{current.number}",
        data={"epoch": current.number, "reason": reason},
    )
