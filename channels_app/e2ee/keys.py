"""age recipients (who a file is encrypted to) and identities (who can decrypt it).

- ``X25519Recipient`` / ``X25519Identity``: the ``age1…`` public key and its
  ``AGE-SECRET-KEY-1…`` secret, for identity keys and epoch keys.
- ``ScryptRecipient`` / ``ScryptIdentity``: a passphrase, for key backups under a
  generated recovery key.

Why these classes only wrap and unwrap: the file format (header, MAC, STREAM) lives in
its own modules, so a new recipient type never touches it. ``unwrap`` returns ``None`` for
"not addressed to me" and raises ``AgeFormatError`` for a stanza of its type that is
malformed, as the spec requires.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from channels_app.e2ee import b64, bech32codec, stanzas
from channels_app.e2ee.errors import AgeFormatError, MalformedIdentityError, MalformedRecipientError
from channels_app.e2ee.header import Stanza
from channels_app.e2ee.primitives import hkdf_sha256, unwrap_file_key, wrap_file_key

RECIPIENT_HRP = "age"
IDENTITY_HRP = "age-secret-key-"
X25519_INFO = b"age-encryption.org/v1/X25519"
SCRYPT_SALT_LABEL = b"age-encryption.org/v1/scrypt"
DEFAULT_SCRYPT_WORK_FACTOR = 18  # age's default: about a second on a current machine
KEY_SIZE = 32


class Recipient(Protocol):
    """Something a file key can be wrapped to."""

    def wrap(self, file_key: bytes) -> list[Stanza]: ...


class Identity(Protocol):
    """Something that may unwrap a file key from a header's stanzas."""

    def unwrap(self, stanza_list: Sequence[Stanza]) -> bytes | None: ...


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class X25519Recipient:
    """An X25519 public key, written ``age1…``."""

    __slots__ = ("_key", "public_bytes")

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != KEY_SIZE:
            raise MalformedRecipientError("an X25519 recipient is 32 bytes")
        # A low-order point would make every shared secret all zeroes, which every reader
        # refuses: better to say so now than to write an unreadable file.
        if stanzas.is_low_order(public_bytes):
            raise MalformedRecipientError("the X25519 recipient is a low-order point")
        self._key = X25519PublicKey.from_public_bytes(public_bytes)
        self.public_bytes = public_bytes

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """Parse an ``age1…`` string; raise ``MalformedRecipientError`` (a ``ValueError``)
        saying what is wrong."""
        try:
            hrp, data = bech32codec.decode(text.strip())
        except ValueError as error:
            raise MalformedRecipientError(f"malformed age recipient {text!r}: {error}") from None
        if hrp != RECIPIENT_HRP or text.strip() != text.strip().lower():
            raise MalformedRecipientError(f"{text!r} is not an age1… X25519 recipient")
        if len(data) != KEY_SIZE:
            raise MalformedRecipientError(f"malformed age recipient {text!r}: wrong length")
        return cls(data)

    def to_string(self) -> str:
        """The ``age1…`` form (lower case, as age writes it); also ``str(recipient)``."""
        return bech32codec.encode(RECIPIENT_HRP, self.public_bytes)

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        return f"X25519Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other.public_bytes == self.public_bytes

    def __hash__(self) -> int:
        return hash(self.public_bytes)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """One ``X25519`` stanza wrapping ``file_key`` under a fresh ephemeral key."""
        ephemeral = X25519PrivateKey.generate()
        share = _raw_public(ephemeral.public_key())
        shared_secret = ephemeral.exchange(self._key)
        wrap_key = hkdf_sha256(shared_secret, share + self.public_bytes, X25519_INFO)
        body = wrap_file_key(wrap_key, file_key)
        return [Stanza(stanzas.X25519_TYPE, (b64.encode(share).decode("ascii"),), body)]


class X25519Identity:
    """An X25519 secret key, written ``AGE-SECRET-KEY-1…``. Never printed by ``repr``."""

    __slots__ = ("_key", "_public_bytes")

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._key = private_key
        self._public_bytes = _raw_public(private_key.public_key())

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """Parse an ``AGE-SECRET-KEY-1…`` string; raise ``MalformedIdentityError`` (a
        ``ValueError``) whose message never repeats the secret."""
        try:
            hrp, data = bech32codec.decode(text.strip())
        except ValueError as error:
            raise MalformedIdentityError(f"malformed age secret key: {error}") from None
        if hrp != IDENTITY_HRP or text.strip() != text.strip().upper():
            raise MalformedIdentityError("not an AGE-SECRET-KEY-1… X25519 identity")
        if len(data) != KEY_SIZE:
            raise MalformedIdentityError("malformed age secret key: wrong length")
        return cls(X25519PrivateKey.from_private_bytes(data))

    def to_string(self) -> str:
        """The ``AGE-SECRET-KEY-1…`` form (upper case, as age writes it)."""
        raw = self._key.private_bytes_raw()
        return bech32codec.encode(IDENTITY_HRP, raw, upper=True)

    @property
    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public_bytes)

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={str(self.recipient)!r})"

    def unwrap(self, stanza_list: Sequence[Stanza]) -> bytes | None:
        """The file key from the first ``X25519`` stanza this key opens, else ``None``.

        Raises ``AgeFormatError`` for a malformed ``X25519`` stanza or a share that gives
        an all-zero shared secret (a low-order point).
        """
        for stanza in stanza_list:
            if stanza.type != stanzas.X25519_TYPE:
                continue
            parsed = stanzas.parse_x25519(stanza)
            try:
                shared_secret = self._key.exchange(X25519PublicKey.from_public_bytes(parsed.share))
            except ValueError as error:
                raise AgeFormatError("X25519 share is a low-order point") from error
            salt = parsed.share + self._public_bytes
            file_key = unwrap_file_key(hkdf_sha256(shared_secret, salt, X25519_INFO), parsed.body)
            if file_key is not None:
                return file_key
        return None


def _scrypt_key(passphrase: bytes, salt: bytes, log_n: int) -> bytes:
    kdf = Scrypt(salt=SCRYPT_SALT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1)
    return kdf.derive(passphrase)


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)
    if not data:
        raise ValueError("the passphrase is empty")
    return data


class ScryptRecipient:
    """Passphrase encryption (2^``work_factor`` scrypt). Must be a file's only recipient."""

    __slots__ = ("_passphrase", "work_factor")

    def __init__(
        self, passphrase: str | bytes, *, work_factor: int = DEFAULT_SCRYPT_WORK_FACTOR
    ) -> None:
        if not 1 <= work_factor <= stanzas.MAX_SCRYPT_WORK_FACTOR:
            raise ValueError(
                f"scrypt work factor must be between 1 and {stanzas.MAX_SCRYPT_WORK_FACTOR}"
            )
        self._passphrase = _passphrase_bytes(passphrase)
        self.work_factor = work_factor

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self.work_factor})"

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(stanzas.SCRYPT_SALT_SIZE)
        body = wrap_file_key(_scrypt_key(self._passphrase, salt, self.work_factor), file_key)
        arguments = (b64.encode(salt).decode("ascii"), str(self.work_factor))
        return [Stanza(stanzas.SCRYPT_TYPE, arguments, body)]


class ScryptIdentity:
    """Passphrase decryption; refuses work factors above ``max_work_factor`` (default
    2^22, age's own limit) instead of spending minutes and gigabytes on them."""

    __slots__ = ("_passphrase", "max_work_factor")

    def __init__(
        self, passphrase: str | bytes, *, max_work_factor: int = stanzas.MAX_SCRYPT_WORK_FACTOR
    ) -> None:
        self._passphrase = _passphrase_bytes(passphrase)
        self.max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self.max_work_factor})"

    def unwrap(self, stanza_list: Sequence[Stanza]) -> bytes | None:
        """The file key if the header's scrypt stanza opens with this passphrase, else
        ``None``; ``AgeFormatError`` for a malformed stanza, a work factor above the limit,
        or an scrypt stanza that is not alone."""
        stanzas.check_scrypt_alone(stanza_list)
        for stanza in stanza_list:
            if stanza.type != stanzas.SCRYPT_TYPE:
                continue
            parsed = stanzas.parse_scrypt(stanza, max_work_factor=self.max_work_factor)
            wrap_key = _scrypt_key(self._passphrase, parsed.salt, parsed.log_n)
            return unwrap_file_key(wrap_key, parsed.body)
        return None


def parse_identity_file(text: str) -> list[X25519Identity]:
    """The identities of an age identity file: one ``AGE-SECRET-KEY-1…`` per line, blank
    lines and lines starting with ``#`` ignored. Raises ``MalformedIdentityError`` naming
    the line number (never its content) when a line is anything else, or when the file
    holds no identity."""
    identities = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            identities.append(X25519Identity.parse(stripped))
        except MalformedIdentityError as error:
            raise MalformedIdentityError(f"identity file, line {number}: {error}") from None
    if not identities:
        raise MalformedIdentityError("the identity file holds no identity")
    return identities
