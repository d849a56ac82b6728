"""API routes for key material (SPEC §3, §5): identity keys, backups, epochs, shares."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.http import HttpRequest
from ninja import Router, Schema, Status

from channels_app.keys import selectors as key_selectors
from channels_app.keys import services as key_services
from channels_app.keys.schemas import BackupIn, DeliveriesIn, EpochIn, IdentityKeyIn, b64
from exchange.kernel.errors import NotFound
from permissions.access import Need, access_channel
from permissions.people.api import request_user

if TYPE_CHECKING:
    from channels_app.models import Epoch

router = Router(tags=["keys"])


class IdentityKeyOut(Schema):
    public_key: str
    created_at: datetime


class BackupOut(Schema):
    backup: str


class EpochOut(Schema):
    number: int
    public_key: str
    back_link: str | None
    created_at: datetime
    stale: bool


class ShareOut(Schema):
    ciphertext: str


class PendingOut(Schema):
    epoch: int
    username: str
    public_key: str


class DeliveredOut(Schema):
    created: int


def _epoch_out(epoch: Epoch) -> EpochOut:
    return EpochOut(
        number=epoch.number,
        public_key=epoch.public_key,
        back_link=b64(epoch.back_link),
        created_at=epoch.created_at,
        stale=epoch.stale,
    )


@router.put("/keys/me", response=IdentityKeyOut, summary="Register one's identity key (age1…)")
def identity_key_put(request: HttpRequest, payload: IdentityKeyIn) -> IdentityKeyOut:
    key = key_services.identity_key_set(actor=request_user(request), public_key=payload.public_key)
    return IdentityKeyOut(public_key=key.public_key, created_at=key.created_at)


@router.get("/keys/me", response=IdentityKeyOut, summary="One's current identity key")
def identity_key_get(request: HttpRequest) -> IdentityKeyOut:
    key = key_services.identity_key_of(request_user(request))
    if key is None:
        raise NotFound("No identity key registered yet.")
    return IdentityKeyOut(public_key=key.public_key, created_at=key.created_at)


@router.put("/keys/me/backup", response=BackupOut, summary="Store one's recovery-key backup")
def backup_put(request: HttpRequest, payload: BackupIn) -> BackupOut:
    record = key_services.key_backup_set(actor=request_user(request), backup=payload.backup)
    return BackupOut(backup=b64(record.data) or "")


@router.get("/keys/me/backup", response=BackupOut, summary="One's recovery-key backup")
def backup_get(request: HttpRequest) -> BackupOut:
    record = key_services.key_backup_of(request_user(request))
    if record is None:
        raise NotFound("No backup stored yet.")
    return BackupOut(backup=b64(record.data) or "")


@router.get("/channels/{slug}/epochs", response=list[EpochOut], summary="A channel's epochs")
def epoch_list(request: HttpRequest, slug: str) -> list[EpochOut]:
    access = access_channel(request_user(request), slug, Need.READ)
    return [_epoch_out(e) for e in key_selectors.epoch_list(channel=access.channel)]


@router.post("/channels/{slug}/epochs", response={201: EpochOut}, summary="Start the next epoch")
def epoch_create(request: HttpRequest, slug: str, payload: EpochIn) -> Status[EpochOut]:
    epoch = key_services.epoch_create(
        actor=request_user(request),
        channel_slug=slug,
        number=payload.number,
        public_key=payload.public_key,
        back_link=payload.back_link,
        shares=[
            key_services.ShareDraft(username=s.username, ciphertext=s.ciphertext)
            for s in payload.shares
        ],
    )
    return Status(201, _epoch_out(epoch))


@router.get(
    "/channels/{slug}/epochs/{number}/share",
    response=ShareOut,
    summary="One's share of an epoch",
)
def share_get(request: HttpRequest, slug: str, number: int) -> ShareOut:
    access = access_channel(request_user(request), slug, Need.READ)
    share = key_services.share_of(access, number)
    return ShareOut(ciphertext=b64(share.ciphertext) or "")


@router.get(
    "/channels/{slug}/shares/pending",
    response=list[PendingOut],
    summary="Shares members still wait for",
)
def shares_pending(request: HttpRequest, slug: str) -> list[PendingOut]:
    access = access_channel(request_user(request), slug, Need.READ)
    return [
        PendingOut(epoch=p.epoch, username=p.username, public_key=p.public_key)
        for p in key_services.shares_pending(access.channel)
    ]


@router.post(
    "/channels/{slug}/shares", response={201: DeliveredOut}, summary="Deliver pending shares"
)
def shares_deliver(request: HttpRequest, slug: str, payload: DeliveriesIn) -> Status[DeliveredOut]:
    created = key_services.shares_deliver(
        actor=request_user(request),
        channel_slug=slug,
        shares=[
            key_services.ShareDraft(username=s.username, ciphertext=s.ciphertext, epoch=s.epoch)
            for s in payload.shares
        ],
    )
    return Status(201, DeliveredOut(created=created))
