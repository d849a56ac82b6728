"""The payload: chunk boundaries, tampering, the header cap, and constant memory.

Why these sizes: 0, 64 KiB and 64 KiB + 1 are where STREAM implementations go wrong (the
empty final chunk, a full final chunk, a one-byte final chunk). Tampering tests check the
contract of SPEC section 5: an error and no plaintext, not even a partial file.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from channels_app.e2ee import (
    MAX_HEADER_BYTES,
    AgeError,
    AgeFormatError,
    AgeMacError,
    AgePayloadError,
    X25519Identity,
    check_age_header,
    decrypt,
    decrypt_bytes,
    decrypt_to_path,
    encrypt,
    encrypt_bytes,
)
from channels_app.e2ee import header as age_header
from channels_app.e2ee.stream import (
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    is_valid_payload_size,
    plaintext_size,
)

IDENTITY = X25519Identity.generate()
SIZES = {
    "empty": 0,
    "one byte": 1,
    "exactly 64 KiB": CHUNK_SIZE,
    "64 KiB + 1": CHUNK_SIZE + 1,
    "two full chunks": 2 * CHUNK_SIZE,
    "multi-chunk": 5 * CHUNK_SIZE + 12345,
}


def chunk_count(size: int) -> int:
    return max(1, -(-size // CHUNK_SIZE))


def header_size(ciphertext: bytes) -> int:
    return age_header.parse(io.BytesIO(ciphertext)).size


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_it_round_trips_with_the_expected_chunking(size: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = encrypt_bytes(plaintext, [IDENTITY.recipient])
    payload = len(ciphertext) - header_size(ciphertext)
    assert payload == NONCE_SIZE + size + chunk_count(size) * TAG_SIZE
    assert is_valid_payload_size(payload)
    assert plaintext_size(payload) == size
    assert decrypt_bytes(ciphertext, [IDENTITY]) == plaintext
    out = io.BytesIO()
    assert decrypt(io.BytesIO(ciphertext), out, [IDENTITY]) == size
    assert out.getvalue() == plaintext


class TrickleReader(io.RawIOBase):
    """Returns at most 1000 bytes per read, as sockets and pipes may."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def readline(self, size: int | None = -1) -> bytes:
        return self._data.readline(size)


def test_short_reads_do_not_break_chunking() -> None:
    plaintext = os.urandom(3 * CHUNK_SIZE + 5)
    ciphertext = io.BytesIO()
    encrypt(cast(BinaryIO, TrickleReader(plaintext)), ciphertext, [IDENTITY.recipient])
    out = io.BytesIO()
    decrypt(cast(BinaryIO, TrickleReader(ciphertext.getvalue())), out, [IDENTITY])
    assert out.getvalue() == plaintext


PLAINTEXT = os.urandom(3 * CHUNK_SIZE + 100)
CIPHERTEXT = encrypt_bytes(PLAINTEXT, [IDENTITY.recipient])
PAYLOAD_START = header_size(CIPHERTEXT) + NONCE_SIZE


def with_mac(ciphertext: bytes, mac: bytes) -> bytes:
    source = io.BytesIO(ciphertext)
    header = age_header.parse(source)
    forged = age_header.Header(header.stanzas, mac, header.mac_input)
    return age_header.encode(forged) + source.read()


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


BROKEN = {
    "last byte cut": (CIPHERTEXT[:-1], AgePayloadError),
    "final chunk cut": (CIPHERTEXT[: PAYLOAD_START + 3 * ENCRYPTED_CHUNK_SIZE], AgePayloadError),
    "cut inside a chunk": (CIPHERTEXT[: PAYLOAD_START + 1000], AgePayloadError),
    "nothing after the nonce": (CIPHERTEXT[:PAYLOAD_START], AgePayloadError),
    "nonce cut": (CIPHERTEXT[: PAYLOAD_START - 1], AgeFormatError),
    "trailing byte": (CIPHERTEXT + b"\x00", AgePayloadError),
    "trailing chunk": (CIPHERTEXT + CIPHERTEXT[-200:], AgePayloadError),
    "first chunk altered": (flip(CIPHERTEXT, PAYLOAD_START + 10), AgePayloadError),
    "final chunk altered": (flip(CIPHERTEXT, len(CIPHERTEXT) - 20), AgePayloadError),
    "tag altered": (flip(CIPHERTEXT, len(CIPHERTEXT) - 1), AgePayloadError),
    "nonce altered": (flip(CIPHERTEXT, PAYLOAD_START - 1), AgePayloadError),
    "chunks swapped": (
        CIPHERTEXT[:PAYLOAD_START]
        + CIPHERTEXT[
            PAYLOAD_START + ENCRYPTED_CHUNK_SIZE : PAYLOAD_START + 2 * ENCRYPTED_CHUNK_SIZE
        ]
        + CIPHERTEXT[PAYLOAD_START : PAYLOAD_START + ENCRYPTED_CHUNK_SIZE]
        + CIPHERTEXT[PAYLOAD_START + 2 * ENCRYPTED_CHUNK_SIZE :],
        AgePayloadError,
    ),
    "header MAC altered": (with_mac(CIPHERTEXT, bytes(32)), AgeMacError),
    "header MAC not base64": (
        CIPHERTEXT.replace(b"\n--- ", b"\n--- !", 1)[:-1],
        AgeFormatError,
    ),
    "stanza altered": (
        CIPHERTEXT.replace(b"-> X25519 ", b"-> grease x\n\n-> X25519 ", 1),
        AgeMacError,
    ),
}


@pytest.mark.parametrize(("ciphertext", "error"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_file_fails_and_releases_nothing(ciphertext: bytes, error: type[AgeError]) -> None:
    out = io.BytesIO()
    with pytest.raises(error):
        decrypt(io.BytesIO(ciphertext), out, [IDENTITY])
    assert out.getvalue() == b""
    with pytest.raises(error):
        decrypt_bytes(ciphertext, [IDENTITY])


@pytest.mark.parametrize(("ciphertext", "error"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_file_leaves_no_file_behind(
    tmp_path: Path, ciphertext: bytes, error: type[AgeError]
) -> None:
    target = tmp_path / "report.pdf"
    with pytest.raises(error):
        decrypt_to_path(io.BytesIO(ciphertext), target, [IDENTITY])
    assert list(tmp_path.iterdir()) == []


def test_a_broken_file_does_not_replace_an_existing_one(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"the previous version")
    with pytest.raises(AgePayloadError):
        decrypt_to_path(io.BytesIO(CIPHERTEXT[:-1]), target, [IDENTITY])
    assert target.read_bytes() == b"the previous version"
    assert list(tmp_path.iterdir()) == [target]


def test_decrypt_to_path_writes_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    assert decrypt_to_path(io.BytesIO(CIPHERTEXT), target, [IDENTITY]) == len(PLAINTEXT)
    assert target.read_bytes() == PLAINTEXT
    assert list(tmp_path.iterdir()) == [target]


def test_an_empty_final_chunk_after_a_full_one_is_refused() -> None:
    # What a naive writer produces for exactly 64 KiB: a full chunk then an empty final one.
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    from channels_app.e2ee.age import open_payload

    ciphertext = encrypt_bytes(b"x" * CHUNK_SIZE, [IDENTITY.recipient])
    source = io.BytesIO(ciphertext)
    key = open_payload(source, [IDENTITY])
    aead = ChaCha20Poly1305(key)
    naive = aead.encrypt(bytes(12), b"x" * CHUNK_SIZE, None)
    naive += aead.encrypt(bytes(10) + b"\x01\x01", b"", None)
    forged = ciphertext[: source.tell()] + naive
    with pytest.raises(AgePayloadError, match="final chunk is empty"):
        decrypt_bytes(forged, [IDENTITY])


class CountingReader(io.RawIOBase):
    """A source that counts what is read from it and never ends."""

    def __init__(self, first: bytes) -> None:
        super().__init__()
        self.first = first
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.first[self.consumed : self.consumed + len(buffer)]
        data += b"A" * (len(buffer) - len(data))
        buffer[: len(data)] = data
        self.consumed += len(data)
        return len(data)


def test_an_endless_header_is_refused_after_8_kib() -> None:
    endless = CountingReader(b"age-encryption.org/v1\n-> X25519 ")
    with pytest.raises(AgeFormatError, match="longer than 8192"):
        age_header.parse(endless)
    assert endless.consumed <= MAX_HEADER_BYTES


def padded_header(size: int) -> bytes:
    """A well-formed header of exactly ``size`` bytes: one real stanza and grease."""
    real = IDENTITY.recipient.wrap(bytes(16))
    base = age_header.build([*real, age_header.Stanza("grease", ("x",))], bytes(16)).size
    filler = age_header.Stanza("grease", ("x" * (size - base + 1),))
    stanzas = [*real, filler]
    header = age_header.Header(tuple(stanzas), bytes(32), age_header.encode_without_mac(stanzas))
    encoded = age_header.encode(header)
    assert len(encoded) == size
    return encoded


def test_a_header_of_exactly_8_kib_is_accepted() -> None:
    header = age_header.parse(io.BytesIO(padded_header(MAX_HEADER_BYTES) + b"payload"))
    assert header.size == MAX_HEADER_BYTES


def test_a_header_one_byte_over_8_kib_is_refused() -> None:
    with pytest.raises(AgeFormatError, match="longer than 8192"):
        age_header.parse(io.BytesIO(padded_header(MAX_HEADER_BYTES + 1) + b"payload"))
    with pytest.raises(AgeFormatError):
        check_age_header(io.BytesIO(padded_header(MAX_HEADER_BYTES + 1)))


def test_it_refuses_to_write_a_header_over_8_kib() -> None:
    recipients = [X25519Identity.generate().recipient for _ in range(90)]
    with pytest.raises(ValueError, match="exceeds 8192"):
        encrypt_bytes(b"too many", recipients)


class NullWriter(io.RawIOBase):
    """Hashes what it is given and keeps none of it."""

    def __init__(self) -> None:
        super().__init__()
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        return len(data)


class PatternReader(io.RawIOBase):
    """``size`` bytes of a repeated random block, generated as they are read."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.remaining = size
        self.block = os.urandom(CHUNK_SIZE)
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.remaining, len(self.block))
        buffer[:count] = self.block[:count]
        self.digest.update(self.block[:count])
        self.remaining -= count
        return count


def peak_memory(work: Callable[[], None]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_64_mib_file_encrypts_and_decrypts_in_constant_memory(tmp_path: Path) -> None:
    size = 64 * 1024 * 1024
    source = PatternReader(size)
    encrypted = tmp_path / "big.age"
    limit = 2 * 1024 * 1024

    def encrypt_it() -> None:
        with encrypted.open("wb") as out:
            encrypt(cast(BinaryIO, source), out, [IDENTITY.recipient])

    assert peak_memory(encrypt_it) < limit
    assert encrypted.stat().st_size > size

    sink = NullWriter()

    def decrypt_it() -> None:
        with encrypted.open("rb") as ciphertext:
            written = decrypt(ciphertext, cast(BinaryIO, sink), [IDENTITY], spool_dir=tmp_path)
            assert written == size

    assert peak_memory(decrypt_it) < limit
    assert sink.digest.digest() == source.digest.digest()

    target = tmp_path / "big.plain"

    def decrypt_to_file() -> None:
        with encrypted.open("rb") as ciphertext:
            decrypt_to_path(ciphertext, target, [IDENTITY])

    assert peak_memory(decrypt_to_file) < limit
    assert target.stat().st_size == size
