"""API routes for encrypted attachments: multipart upload, byte-for-byte download."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import IO

from asgiref.sync import sync_to_async
from django.http import HttpRequest, StreamingHttpResponse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from channels_app.attachments import services as attachment_services
from channels_app.keys.schemas import b64
from exchange.kernel.ratelimit import ApiWriteThrottle, UploadThrottle
from permissions.access import attachment_by_id
from permissions.people.api import request_user

router = Router(tags=["attachments"])
DOWNLOAD_CHUNK = 256 * 1024


class UploadedOut(Schema):
    id: int
    size: int
    sha256: str
    epoch: int


class AttachmentMetaOut(Schema):
    id: int
    channel: str
    epoch: int
    size: int
    sha256: str
    meta: str


@router.post(
    "/channels/{slug}/attachments",
    response={201: UploadedOut},
    summary="Upload an age-encrypted file and its age-encrypted meta",
    # Stricter than other writes, and checked before the multipart body is parsed.
    throttle=[UploadThrottle(), ApiWriteThrottle()],
)
def attachment_upload(
    request: HttpRequest,
    slug: str,
    epoch: Form[int],
    meta: File[UploadedFile],
    file: File[UploadedFile],
) -> Status[UploadedOut]:
    attachment = attachment_services.attachment_upload(
        actor=request_user(request), channel_slug=slug, epoch=epoch, meta=meta, file=file
    )
    return Status(
        201,
        UploadedOut(
            id=attachment.pk,
            size=attachment.size,
            sha256=attachment.sha256,
            epoch=attachment.epoch.number,
        ),
    )


@router.get(
    "/attachments/{attachment_id}",
    response={200: None},
    summary="The stored age file, byte for byte",
)
def attachment_download(request: HttpRequest, attachment_id: int) -> StreamingHttpResponse:
    actor = request_user(request)
    attachment, _ = attachment_by_id(actor, attachment_id)
    file = attachment_services.attachment_open(actor=actor, attachment=attachment)

    def served_in_full() -> None:
        attachment_services.attachment_fetched_in_full(actor=actor, attachment=attachment)

    response = StreamingHttpResponse(
        _chunks(file, size=attachment.size, on_complete=served_in_full),
        content_type="application/octet-stream",
    )
    response["Content-Disposition"] = f'attachment; filename="attachment-{attachment.pk}.age"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Length"] = str(attachment.size)
    return response


async def _chunks(
    file: IO[bytes], *, size: int, on_complete: Callable[[], None]
) -> AsyncIterator[bytes]:
    """The file, a chunk at a time, read in a worker thread; `on_complete` runs once the
    last of its `size` bytes was handed on.

    An asynchronous iterator on purpose: Django's ASGI handler reads a synchronous one
    (FileResponse's) into a list before sending anything, which would hold the whole
    ciphertext in memory. The handler asks for the next chunk only after it sent the
    previous one (and exchange.server's transport waits while the client's buffer is
    full), so reaching the end here means every byte went out; a client that disconnects
    has the handler cancel this iterator at an `await`, and nothing is counted.
    """
    read = sync_to_async(file.read, thread_sensitive=False)
    sent = 0
    try:
        while chunk := await read(DOWNLOAD_CHUNK):
            yield chunk
            sent += len(chunk)
    finally:
        await sync_to_async(file.close, thread_sensitive=False)()
    if sent == size:
        await sync_to_async(on_complete)()


@router.get(
    "/attachments/{attachment_id}/meta",
    response=AttachmentMetaOut,
    summary="An attachment's encrypted meta and what the server knows of it",
)
def attachment_meta(request: HttpRequest, attachment_id: int) -> AttachmentMetaOut:
    attachment, _ = attachment_by_id(request_user(request), attachment_id)
    return AttachmentMetaOut(
        id=attachment.pk,
        channel=attachment.channel.slug,
        epoch=attachment.epoch.number,
        size=attachment.size,
        sha256=attachment.sha256,
        meta=b64(attachment.meta) or "",
    )
