"""Encrypted attachments: store an age file as uploaded, serve it back byte for byte.

The server sees ciphertext only. It checks what it can without keys (SPEC §5): the
header parses and names an X25519 recipient, the epoch is the channel's current one and
not stale, the size is within the limit, the uploader may post. Files are read in
chunks, never whole, so memory stays flat whatever their size.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from audit.chain import record
from channels_app.keys.ciphertext import clean_age_file
from channels_app.keys.selectors import current_epoch
from channels_app.models import Attachment, Document, DocumentDownload, DocumentVersion
from exchange.kernel.errors import BadRequest, Conflict, TooLarge
from permissions.access import Need, access_channel
from permissions.models import User

MAX_META_BYTES = 64 * 1024
CHUNK = 1024 * 1024


def max_upload_bytes() -> int:
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024


def attachment_upload(
    *, actor: User, channel_slug: str, epoch: int, meta: File, file: File
) -> Attachment:
    """Keep an uploaded age file and its encrypted meta; participants only."""
    channel = access_channel(actor, channel_slug, Need.POST).channel
    if file.size is None or file.size > max_upload_bytes():
        raise TooLarge(f"An attachment is at most {settings.MAX_UPLOAD_MB} MB.")
    if meta.size is None or meta.size > MAX_META_BYTES:
        raise TooLarge(f"meta is at most {MAX_META_BYTES} bytes.")
    current = current_epoch(channel)
    if current is None or current.number != epoch:
        raise Conflict("Encrypt to the channel's current epoch.", field="epoch")
    if current.stale:
        raise Conflict("The channel key is being rotated; encrypt to the next epoch.")
    meta_bytes = meta.read()
    clean_age_file(meta_bytes, field="meta")
    clean_age_file(file, field="file", size=file.size)
    digest = hashlib.sha256()
    for chunk in file.chunks(CHUNK):
        digest.update(chunk)
    file.seek(0)
    name = default_storage.save(f"attachments/{channel.pk}/{uuid.uuid4().hex}.age", file)
    try:
        with transaction.atomic():
            attachment = Attachment.objects.create(
                channel=channel,
                epoch=current,
                uploader=actor,
                storage_name=name,
                size=file.size,
                sha256=digest.hexdigest(),
                meta=meta_bytes,
            )
            record(
                action="attachment.uploaded",
                actor=actor,
                channel=channel,
                target=f"attachment:{attachment.pk}",
                data={
                    "epoch": current.number,
                    "size": attachment.size,
                    "sha256": attachment.sha256,
                },
            )
            return attachment
    except Exception:
        default_storage.delete(name)  # nothing left behind
        raise


def attachment_open(*, actor: User, attachment: Attachment) -> IO[bytes]:
    """Open the stored age file for a reader already checked, and audit the download."""
    handle = default_storage.open(attachment.storage_name, "rb")
    record(
        action="attachment.downloaded",
        actor=actor,
        channel=attachment.channel,
        target=f"attachment:{attachment.pk}",
    )
    return handle


def attachment_fetched_in_full(*, actor: User, attachment: Attachment) -> None:
    """Count a download for the document whose version `attachment` is, once per user
    (SPEC §3 `downloads`: distinct users who fetched one of its versions in full). Called
    by the download route when the last byte was served. The DocumentDownload row and the
    denormalised Document.downloads move in one transaction; a second fetch by the same
    user meets the unique constraint and counts nothing."""
    document_id = (
        DocumentVersion.objects.filter(attachment_id=attachment.pk)
        .values_list("document_id", flat=True)
        .first()
    )
    if document_id is None:
        return
    with transaction.atomic():
        _, created = DocumentDownload.objects.get_or_create(
            document_id=document_id, user_id=actor.pk
        )
        if created:
            Document.objects.filter(pk=document_id).update(downloads=F("downloads") + 1)


def attachments_for_message(*, actor: User, channel_id: int, ids: list[int]) -> list[Attachment]:
    """The attachments a new message may carry: the author's own uploads to this channel
    that no message and no document version carries yet. Locks them until the caller's
    transaction ends."""
    if len(set(ids)) != len(ids):
        raise BadRequest("An attachment appears twice.", field="attachments")
    found = list(
        Attachment.objects.select_for_update().filter(
            pk__in=ids, channel_id=channel_id, uploader=actor, message__isnull=True
        )
    )
    if len(found) != len(ids) or carried_by_a_version(found):
        raise BadRequest("Unknown attachment.", field="attachments")
    return found


def carried_by_a_version(attachments: list[Attachment]) -> bool:
    """Whether a document version carries one of these attachments. Asked after their rows
    are locked: a version added meanwhile has committed by then, and this later statement
    sees it (no column of the attachment row itself records a version)."""
    return DocumentVersion.objects.filter(attachment__in=attachments).exists()


def attachment_for_version(*, actor: User, channel_id: int, attachment_id: int) -> Attachment:
    """The attachment a new document version may carry: the actor's own upload to the
    document's channel that no message and no other version carries. Locks it until the
    caller's transaction ends."""
    found = (
        Attachment.objects.select_for_update()
        .filter(pk=attachment_id, channel_id=channel_id, uploader=actor, message__isnull=True)
        .first()
    )
    if found is None or carried_by_a_version([found]):
        raise BadRequest(
            "Unknown attachment: upload one of your own to this channel first.",
            field="attachment",
        )
    return found
