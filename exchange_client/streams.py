"""Byte plumbing with constant memory: an encryption running in a thread as a body
iterator, a byte iterator as a file, exact ciphertext lengths.

Why a thread: `channels_app.e2ee.encrypt` writes into a file object and returns at the
end; an HTTP body is pulled chunk by chunk. A bounded queue between the two keeps at most
a few chunks in memory, whatever the file's size.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

from channels_app.e2ee import X25519Recipient, encrypt, encrypt_bytes
from channels_app.e2ee.primitives import TAG_SIZE
from channels_app.e2ee.stream import CHUNK_SIZE, NONCE_SIZE

QUEUE_DEPTH = 8
_DONE = object()


def ciphertext_length(recipient: X25519Recipient, plaintext_length: int) -> int:
    """The exact size of the age file `encrypt` writes for `plaintext_length` bytes to one
    X25519 recipient: its header (fixed in size for this recipient type, measured on an
    empty file), the 16-byte nonce, and one 16-byte tag per 64 KiB chunk (at least one)."""
    header = len(encrypt_bytes(b"", [recipient])) - NONCE_SIZE - TAG_SIZE
    chunks = max(1, -(-plaintext_length // CHUNK_SIZE))
    return header + NONCE_SIZE + plaintext_length + chunks * TAG_SIZE


class _HashingReader:
    """Reads through to `source`, hashing and counting what passes."""

    def __init__(self, source: BinaryIO, seen: Callable[[int], None]) -> None:
        self.source = source
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._seen = seen

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.sha256.update(data)
        self.size += len(data)
        self._seen(len(data))
        return data


class _Cancelled(Exception):
    pass


class _QueueWriter:
    def __init__(self, out: queue.Queue[object], stop: threading.Event) -> None:
        self.out = out
        self.stop = stop

    def write(self, data: bytes) -> int:
        while not self.stop.is_set():
            try:
                self.out.put(bytes(data), timeout=0.2)
                return len(data)
            except queue.Full:
                continue
        raise _Cancelled


def encrypted_chunks(
    source: BinaryIO,
    recipient: X25519Recipient,
    *,
    expected_sha256: str,
    seen: Callable[[int], None] = lambda n: None,
) -> Iterator[bytes]:
    """The age file of `source` for `recipient`, chunk by chunk. Raises ValueError at the
    end when the plaintext's SHA-256 is not `expected_sha256` (the file changed since it
    was hashed), so the body is never completed with a lying `meta`."""
    out: queue.Queue[object] = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    reader = _HashingReader(source, seen)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            encrypt(reader, _QueueWriter(out, stop), [recipient])  # type: ignore[arg-type]
        except _Cancelled:
            return
        except BaseException as error:
            failure.append(error)
        while not stop.is_set():
            try:
                out.put(_DONE, timeout=0.2)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=work, name="age-encrypt", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
        if reader.sha256.hexdigest() != expected_sha256:
            raise ValueError("the file changed while it was being uploaded")
    finally:
        stop.set()
        thread.join(timeout=5)


def file_digest(source: BinaryIO, seen: Callable[[int], None] = lambda n: None) -> tuple[str, int]:
    """SHA-256 (hex) and length of what `source` holds, read a chunk at a time."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
        seen(len(chunk))
    return digest.hexdigest(), size


class IteratorReader:
    """A read-only file over an iterator of byte strings: `read` and `readline(limit)`, as
    the age header parser and the STREAM reader need. Holds one network chunk at most."""

    def __init__(
        self, chunks: Iterator[bytes], seen: Callable[[int], None] = lambda n: None
    ) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._seen = seen
        self._ended = False

    def _fill(self, size: int) -> None:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._ended = True
                return
            self._seen(len(chunk))
            self._buffer.extend(chunk)

    def read(self, size: int = -1) -> bytes:
        self._fill(size)
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0 and (limit < 0 or end < limit):
                return self.read(end + 1)
            if limit >= 0 and len(self._buffer) >= limit:
                return self.read(limit)
            if self._ended:
                return self.read(len(self._buffer) if limit < 0 else min(limit, len(self._buffer)))
            self._fill(len(self._buffer) + 1)
