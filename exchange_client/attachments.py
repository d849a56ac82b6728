"""Attachments in the browser's format (SPEC §5, static/js/attachments.js), streamed.

Upload: the file is read twice, a chunk at a time: once for its SHA-256 (which `meta`
carries, and `meta` goes first in the body as the browser sends it), once through age into
the request body, whose exact length is known before the first byte is sent. Download: the
age file is decrypted chunk by chunk into a temporary file beside the target, which is
renamed into place only after the last chunk authenticated and the size and SHA-256 match
`meta`; on any error nothing is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mimetypes
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels_app.e2ee import AgeError, X25519Identity, decrypt_bytes, encrypt_bytes
from channels_app.e2ee.age import open_payload
from channels_app.e2ee.stream import decrypt_chunks
from exchange_client.client import JSON, Client
from exchange_client.errors import ExchangeError
from exchange_client.keys import EpochKeys, b64decode
from exchange_client.progress import bar
from exchange_client.streams import (
    IteratorReader,
    ciphertext_length,
    encrypted_chunks,
    file_digest,
)


@dataclass(frozen=True)
class Meta:
    name: str
    type: str
    size: int
    sha256: str


def safe_name(name: str) -> str:
    """The browser's rule: no directories, no control characters, never `.` or `..`."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip()
    return base if base and base not in (".", "..") else "attachment"


def _open_source(path: Path) -> Any:
    try:
        return path.open("rb")
    except OSError as error:
        raise ExchangeError("file", f"{path}: {error.strerror or error}") from None


def upload(client: Client, keys: EpochKeys, path: Path) -> JSON:
    """Encrypt `path` to the channel's current epoch and upload it with its meta; return
    the server's `{id, size, sha256, epoch}`. Like the browser, encrypts again once when the
    server answers 409 (the epoch went stale or was replaced while the file was on its way):
    the upload was refused whole, so sending it again stores nothing twice."""
    if not path.is_file():
        raise ExchangeError("file", f"{path}: no such file")
    # The channel and its key first: a wrong slug should not cost a pass over a large file.
    number, epoch = keys.current_for_encryption()
    with _open_source(path) as source:
        total = os.fstat(source.fileno()).st_size
        with bar(f"hashing {path.name}", total) as seen:
            sha256, size = file_digest(source, seen)
    meta = {
        "name": path.name,
        "type": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        "size": size,
        "sha256": sha256,
    }
    try:
        return _send(client, keys.channel, path, number, epoch, meta)
    except ExchangeError as error:
        if error.status != 409:
            raise
    number, epoch = keys.current_for_encryption()
    return _send(client, keys.channel, path, number, epoch, meta)


def _send(
    client: Client,
    channel: str,
    path: Path,
    number: int,
    epoch: X25519Identity,
    meta: dict[str, Any],
) -> JSON:
    """One multipart upload: `epoch`, then `meta` (the browser's order), then the file,
    with the exact length announced before the first byte."""
    recipient = epoch.recipient
    sealed_meta = encrypt_bytes(json.dumps(meta).encode(), [recipient])
    boundary = uuid.uuid4().hex
    head = (
        _field(boundary, "epoch", str(number).encode())
        + _file_head(boundary, "meta", "meta.age")
        + sealed_meta
        + b"\r\n"
        + _file_head(boundary, "file", "file.age")
    )
    tail = f"\r\n--{boundary}--\r\n".encode()
    file_length = ciphertext_length(recipient, int(meta["size"]))
    length = len(head) + file_length + len(tail)

    with _open_source(path) as source, bar(f"uploading {path.name}", int(meta["size"])) as seen:

        def body() -> Iterator[bytes]:
            yield head
            sent = 0
            chunks = encrypted_chunks(
                source, recipient, expected_sha256=str(meta["sha256"]), seen=seen
            )
            for chunk in chunks:
                sent += len(chunk)
                yield chunk
            if sent != file_length:
                raise ValueError("the age file is not the length announced")
            yield tail

        try:
            return client.upload_attachment(
                channel,
                body(),
                content_type=f"multipart/form-data; boundary={boundary}",
                length=length,
            )
        except ValueError as error:
            raise ExchangeError("file", f"{path}: {error}") from None


def _field(boundary: str, name: str, value: bytes) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
    )


def _file_head(boundary: str, name: str, filename: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()


def read_meta(
    client: Client, identity: X25519Identity, attachment_id: int
) -> tuple[JSON, Meta, EpochKeys]:
    """The server's record of the attachment, its decrypted meta, and the channel's keys."""
    answer = client.attachment_meta(attachment_id)
    keys = EpochKeys(client, str(answer["channel"]), identity)
    epoch = keys.identity_for(int(answer["epoch"]))
    if epoch is None:
        raise ExchangeError(
            "key", f"no key for epoch {answer['epoch']} of {answer['channel']}: wait for a share"
        )
    try:
        data = json.loads(decrypt_bytes(b64decode(str(answer["meta"])), [epoch]))
        meta = Meta(
            name=safe_name(str(data["name"])),
            type=str(data.get("type") or ""),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
        )
    except (AgeError, ValueError, KeyError, TypeError):
        raise ExchangeError("integrity", "the attachment's meta does not decrypt") from None
    if meta.size < 0 or not re.fullmatch(r"[0-9a-f]{64}", meta.sha256):
        raise ExchangeError("integrity", "the attachment's meta is malformed")
    return answer, meta, keys


def download(
    client: Client, identity: X25519Identity, attachment_id: int, output: Path | None
) -> Path:
    """Download, decrypt and verify attachment `attachment_id`; return the path written:
    `output` (a file, or a directory to put the original name in), else the original name
    in the current directory, which is never overwritten without `-o`."""
    answer, meta, keys = read_meta(client, identity, attachment_id)
    if output is None:
        target = Path.cwd() / meta.name
        if target.exists():
            raise ExchangeError("file", f"{target} exists (use -o to choose where to save)")
    elif output.is_dir():
        target = output / meta.name
    else:
        target = output
    if not target.parent.is_dir():
        raise ExchangeError("file", f"{target.parent}: no such directory")
    epoch = keys.identity_for(int(answer["epoch"]))
    if epoch is None:  # pragma: no cover - read_meta found it a moment ago
        raise ExchangeError("key", f"no key for epoch {answer['epoch']}")
    try:
        descriptor, partial = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
        )
    except OSError as error:
        raise ExchangeError("file", f"{target.parent}: {error.strerror or error}") from None
    try:
        with (
            os.fdopen(descriptor, "wb") as out,
            client.attachment_stream(attachment_id) as (
                length,
                chunks,
            ),
            bar(f"downloading {meta.name}", length) as seen,
        ):
            source = IteratorReader(chunks, seen)
            digest = hashlib.sha256()
            size = 0
            try:
                key = open_payload(source, [epoch])  # type: ignore[arg-type]
                for chunk in decrypt_chunks(key, source):  # type: ignore[arg-type]
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            except AgeError as error:
                raise ExchangeError("decrypt", f"attachment {attachment_id}: {error}") from None
        if size != meta.size or digest.hexdigest() != meta.sha256:
            raise ExchangeError(
                "integrity", f"attachment {attachment_id} is not what its meta says it is"
            )
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return target
