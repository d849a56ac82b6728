"""The age payload: STREAM with ChaCha20-Poly1305 over 64 KiB chunks.

Each chunk is sealed under the payload key with a 12-byte nonce: an 11-byte big-endian
chunk counter, then 0x01 for the final chunk and 0x00 before it. The final chunk may be
short, and is empty only when the whole plaintext is. Why this module yields chunks rather
than writing them: a single chunk authenticating says nothing about the file being whole
(truncation and extension are only detected at the end), so the caller decides where the
authenticated chunks wait until the end authenticated (see ``age.decrypt``). Memory use is
one or two chunks, whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from channels_app.e2ee.errors import AgePayloadError
from channels_app.e2ee.primitives import TAG_SIZE

CHUNK_SIZE = 64 * 1024
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16
_COUNTER_LIMIT = 1 << 88
_LAST = b"\x01"
_NOT_LAST = b"\x00"


def _chunk_nonce(counter: int, last: bool) -> bytes:
    if counter >= _COUNTER_LIMIT:  # pragma: no cover - 2^88 chunks cannot be written
        raise AgePayloadError("STREAM chunk counter overflow")
    return counter.to_bytes(11, "big") + (_LAST if last else _NOT_LAST)


def read_exact(source: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at end of file (``read`` may return short)."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing:
        more = source.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def encrypt_payload(key: bytes, source: BinaryIO, destination: BinaryIO) -> int:
    """Encrypt all of ``source`` into ``destination`` under the payload ``key``; return
    the plaintext length. Reads one chunk ahead so the final chunk is marked as such even
    when the plaintext is a multiple of 64 KiB."""
    aead = ChaCha20Poly1305(key)
    counter = 0
    total = 0
    current = read_exact(source, CHUNK_SIZE)
    while True:
        following = read_exact(source, CHUNK_SIZE) if len(current) == CHUNK_SIZE else b""
        last = not following
        destination.write(aead.encrypt(_chunk_nonce(counter, last), current, None))
        total += len(current)
        if last:
            return total
        counter += 1
        current = following


def decrypt_chunks(key: bytes, source: BinaryIO) -> Iterator[bytes]:
    """Yield the plaintext of each chunk of the STREAM payload in ``source`` once that
    chunk authenticated; raise ``AgePayloadError`` when the payload turns out truncated,
    extended or altered.

    A chunk yielded is authentic but the file is whole only once the iterator finishes
    without error: release nothing before. A full-size chunk may be the final one, so it is
    tried as an inner chunk first and then as the final chunk; after the final chunk the
    source must be at end of file.
    """
    aead = ChaCha20Poly1305(key)
    counter = 0
    while True:
        sealed = read_exact(source, ENCRYPTED_CHUNK_SIZE)
        if not sealed:
            raise AgePayloadError("payload is truncated: it ends without a final chunk")
        last = len(sealed) < ENCRYPTED_CHUNK_SIZE
        if last and counter > 0 and len(sealed) == TAG_SIZE:
            raise AgePayloadError("the final chunk is empty but the payload is not")
        try:
            plaintext = aead.decrypt(_chunk_nonce(counter, last), sealed, None)
        except InvalidTag:
            if last:
                raise AgePayloadError("payload chunk failed to authenticate") from None
            last = True
            try:
                plaintext = aead.decrypt(_chunk_nonce(counter, last), sealed, None)
            except InvalidTag:
                raise AgePayloadError("payload chunk failed to authenticate") from None
        yield plaintext
        if last:
            if source.read(1):
                raise AgePayloadError("trailing data after the final chunk")
            return
        counter += 1


def is_valid_payload_size(size: int) -> bool:
    """Whether ``size`` bytes (nonce included) can be a complete payload: lets the server
    refuse a truncated upload without any key."""
    sealed = size - NONCE_SIZE
    if sealed < TAG_SIZE:
        return False
    chunks = -(-sealed // ENCRYPTED_CHUNK_SIZE)
    plaintext = sealed - chunks * TAG_SIZE
    expected = max(1, -(-plaintext // CHUNK_SIZE))
    return chunks == expected


def plaintext_size(size: int) -> int:
    """The plaintext length of a payload of ``size`` bytes (nonce included); raises
    ``AgePayloadError`` when no payload has that size."""
    if not is_valid_payload_size(size):
        raise AgePayloadError(f"no age payload is {size} bytes long")
    sealed = size - NONCE_SIZE
    return sealed - -(-sealed // ENCRYPTED_CHUNK_SIZE) * TAG_SIZE
