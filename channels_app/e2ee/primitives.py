"""The few cryptographic building blocks age combines, on ``cryptography``.

Why one module: every recipient type derives keys with HKDF-SHA-256 and wraps the 16-byte
file key with ChaCha20-Poly1305 under a zero nonce; keeping that in one place keeps the
"check the body is exactly 32 bytes before decrypting" rule (a defence against partitioning
oracles) in one place too.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FILE_KEY_SIZE = 16
TAG_SIZE = 16
WRAPPED_FILE_KEY_SIZE = FILE_KEY_SIZE + TAG_SIZE
_ZERO_NONCE = bytes(12)


def new_file_key() -> bytes:
    """A fresh 128-bit file key from the OS CSPRNG; never reuse one across files."""
    return os.urandom(FILE_KEY_SIZE)


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 (extract with ``salt``, expand with ``info``) to 32 bytes."""
    return HKDF(algorithm=SHA256(), length=32, salt=salt, info=info).derive(ikm)


def wrap_file_key(wrap_key: bytes, file_key: bytes) -> bytes:
    """ChaCha20-Poly1305 of the file key under ``wrap_key`` with the fixed zero nonce."""
    return ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)


class WrongSizeError(ValueError):
    """The wrapped file key is not exactly 32 bytes (a malformed stanza, not a wrong key)."""


def unwrap_file_key(wrap_key: bytes, body: bytes) -> bytes | None:
    """The file key, or ``None`` when ``wrap_key`` does not open ``body`` (not ours).

    Raises ``WrongSizeError`` before any decryption when the body has the wrong size.
    """
    if len(body) != WRAPPED_FILE_KEY_SIZE:
        raise WrongSizeError("wrapped file key must be 32 bytes")
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def header_mac(file_key: bytes, header_without_mac: bytes) -> bytes:
    """HMAC-SHA-256 of the header up to and including ``---``, keyed from the file key."""
    key = hkdf_sha256(file_key, b"", b"header")
    return hmac.new(key, header_without_mac, hashlib.sha256).digest()


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """The STREAM key: HKDF-SHA-256 of the file key salted with the 16-byte payload nonce."""
    return hkdf_sha256(file_key, nonce, b"payload")
