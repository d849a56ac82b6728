"""Encrypt and decrypt whole age files, streaming, with constant memory.

Contract of ``decrypt``: nothing of the plaintext reaches the caller before the whole
payload authenticated (final chunk included, no trailing data). The choice made here:

- ``decrypt(src, dst, …)`` stages the plaintext in an anonymous temporary file (kept in
  memory up to ``SPOOL_IN_MEMORY`` bytes, on disk past that, in ``spool_dir`` or the system
  temporary directory; already unlinked, so nothing is left behind by a crash) and copies
  it into ``dst`` only once the file authenticated. On any error ``dst`` is untouched.
- ``decrypt_to_path(src, path, …)`` writes next to ``path`` under a temporary name (mode
  0600) and renames it into place only once the file authenticated, so ``path`` never holds
  a partial or forged plaintext and no second copy is made.

Exceptions: ``AgeFormatError`` (not a valid age file), ``AgeNoIdentityMatch``,
``AgeMacError`` (header altered), ``AgePayloadError`` (payload truncated or altered), all
``AgeError``. Reading from ``open_armored`` adds ``AgeArmorError``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from channels_app.e2ee import header as age_header
from channels_app.e2ee import stanzas
from channels_app.e2ee.errors import AgeFormatError, AgeNoIdentityMatch
from channels_app.e2ee.keys import Identity, Recipient
from channels_app.e2ee.primitives import new_file_key, payload_key
from channels_app.e2ee.stream import (
    CHUNK_SIZE,
    NONCE_SIZE,
    decrypt_chunks,
    encrypt_payload,
    read_exact,
)

SPOOL_IN_MEMORY = 256 * 1024


def encrypt(src: BinaryIO, dst: BinaryIO, recipients: Iterable[Recipient]) -> int:
    """Encrypt all of ``src`` to ``recipients`` as an age file written to ``dst``; return
    the plaintext length. Raises ``ValueError`` for no recipient, or an scrypt recipient
    together with any other (the format forbids it)."""
    file_key = new_file_key()
    stanza_list = [stanza for recipient in recipients for stanza in recipient.wrap(file_key)]
    if not stanza_list:
        raise ValueError("encrypt needs at least one recipient")
    try:
        stanzas.check_scrypt_alone(stanza_list)
    except AgeFormatError as error:
        raise ValueError(str(error)) from None
    dst.write(age_header.encode(age_header.build(stanza_list, file_key)))
    nonce = os.urandom(NONCE_SIZE)
    dst.write(nonce)
    return encrypt_payload(payload_key(file_key, nonce), src, dst)


def _unwrap_file_key(header: age_header.Header, identities: Sequence[Identity]) -> bytes:
    stanzas.check_scrypt_alone(header.stanzas)
    for identity in identities:
        file_key = identity.unwrap(header.stanzas)
        if file_key is not None:
            header.verify_mac(file_key)
            return file_key
    types = ", ".join(sorted({stanza.type for stanza in header.stanzas}))
    raise AgeNoIdentityMatch(f"no identity matches the file's recipient stanzas ({types})")


def open_payload(src: BinaryIO, identities: Iterable[Identity]) -> bytes:
    """Read the header and the payload nonce from ``src``; return the payload key, with
    ``src`` left at the first STREAM chunk. For ``decrypt`` and for tests of the STREAM
    layer; not a way to read plaintext early."""
    header = age_header.parse(src)
    identity_list = list(identities)
    if not identity_list:
        raise ValueError("decrypt needs at least one identity")
    file_key = _unwrap_file_key(header, identity_list)
    nonce = read_exact(src, NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise AgeFormatError("the payload nonce is missing or truncated")
    return payload_key(file_key, nonce)


def decrypt(
    src: BinaryIO,
    dst: BinaryIO,
    identities: Iterable[Identity],
    *,
    spool_dir: str | os.PathLike[str] | None = None,
) -> int:
    """Decrypt the age file in ``src`` into ``dst``; return the plaintext length.

    ``dst`` receives the plaintext only after the whole file authenticated (see the module
    docstring); on any ``AgeError`` it receives nothing.
    """
    key = open_payload(src, identities)
    spool_in = None if spool_dir is None else os.fspath(spool_dir)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=spool_in) as spool:
        size = 0
        for chunk in decrypt_chunks(key, src):
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        shutil.copyfileobj(spool, dst, CHUNK_SIZE)
    return size


def decrypt_to_path(
    src: BinaryIO, path: str | os.PathLike[str], identities: Iterable[Identity]
) -> int:
    """Decrypt the age file in ``src`` to the file ``path``; return the plaintext length.

    ``path`` is created (or replaced) atomically once the whole file authenticated; on any
    error it is left as it was and the temporary file is removed.
    """
    target = Path(path)
    key = open_payload(src, identities)
    descriptor, partial = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
    )
    try:
        with os.fdopen(descriptor, "wb") as out:
            size = 0
            for chunk in decrypt_chunks(key, src):
                out.write(chunk)
                size += len(chunk)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return size


def encrypt_bytes(data: bytes, recipients: Iterable[Recipient]) -> bytes:
    """``encrypt`` for data already in memory."""
    out = io.BytesIO()
    encrypt(io.BytesIO(data), out, recipients)
    return out.getvalue()


def decrypt_bytes(data: bytes, identities: Iterable[Identity]) -> bytes:
    """``decrypt`` for data already in memory; returns the plaintext only if the whole
    file authenticated."""
    src = io.BytesIO(data)
    key = open_payload(src, identities)
    return b"".join(list(decrypt_chunks(key, src)))
