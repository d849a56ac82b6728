"""age v1 file encryption (https://age-encryption.org/v1) on ``cryptography``.

X25519 and scrypt recipients, the header with its MAC and 8 KiB cap, the STREAM payload in
64 KiB chunks, and ASCII armor; no post-quantum hybrid and no plugins. Files written here
decrypt with any age implementation and the other way round (tested against the CCTV
vectors, the ``age`` command and pyrage). The modules each do one thing: ``b64`` and
``bech32codec`` (encodings), ``primitives`` (HKDF, AEAD, MAC), ``header``, ``stanzas``,
``stream``, ``keys``, ``armor``, and ``age`` (the whole-file API re-exported here).
"""

from __future__ import annotations

from channels_app.e2ee.age import (
    decrypt,
    decrypt_bytes,
    decrypt_to_path,
    encrypt,
    encrypt_bytes,
)
from channels_app.e2ee.errors import (
    AgeArmorError,
    AgeError,
    AgeFormatError,
    AgeKeyError,
    AgeMacError,
    AgeNoIdentityMatch,
    AgePayloadError,
    MalformedIdentityError,
    MalformedRecipientError,
)
from channels_app.e2ee.header import MAX_HEADER_BYTES, check_age_header
from channels_app.e2ee.keys import (
    Identity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    parse_identity_file,
)

__all__ = [
    "MAX_HEADER_BYTES",
    "AgeArmorError",
    "AgeError",
    "AgeFormatError",
    "AgeKeyError",
    "AgeMacError",
    "AgeNoIdentityMatch",
    "AgePayloadError",
    "Identity",
    "MalformedIdentityError",
    "MalformedRecipientError",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "X25519Identity",
    "X25519Recipient",
    "check_age_header",
    "decrypt",
    "decrypt_bytes",
    "decrypt_to_path",
    "encrypt",
    "encrypt_bytes",
    "parse_identity_file",
]
