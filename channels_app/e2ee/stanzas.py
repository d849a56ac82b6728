"""The shapes of the two native stanza types we support, checked without any key.

Why apart from the keys: the server checks uploads with these same rules (it holds no
key), and the identities check them before they spend any work on a stanza. A stanza of
our type with the wrong shape is an ``AgeFormatError``, never "not addressed to us": the
spec requires rejecting it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from channels_app.e2ee import b64
from channels_app.e2ee.errors import AgeFormatError
from channels_app.e2ee.primitives import WRAPPED_FILE_KEY_SIZE

if TYPE_CHECKING:
    from channels_app.e2ee.header import Stanza

X25519_TYPE = "X25519"
SCRYPT_TYPE = "scrypt"
X25519_SHARE_SIZE = 32
SCRYPT_SALT_SIZE = 16
# age's own ceiling (2^22, about 4 GiB of scrypt memory): a higher one is a denial of
# service on whoever decrypts. The testkit requires 23 to be refused.
MAX_SCRYPT_WORK_FACTOR = 22
_DECIMAL = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True)
class X25519Stanza:
    share: bytes
    body: bytes


@dataclass(frozen=True)
class ScryptStanza:
    salt: bytes
    log_n: int
    body: bytes


def _decode_argument(value: str, size: int, what: str) -> bytes:
    try:
        data = b64.decode(value.encode("ascii"))
    except ValueError as error:
        raise AgeFormatError(f"malformed {what}: {error}") from error
    if len(data) != size:
        raise AgeFormatError(f"malformed {what}: expected {size} bytes")
    return data


def _check_body(stanza: Stanza) -> None:
    # Before any decryption, so that a malformed body cannot serve as a partitioning oracle.
    if len(stanza.body) != WRAPPED_FILE_KEY_SIZE:
        raise AgeFormatError(f"malformed {stanza.type} stanza: the body is not 32 bytes")


def parse_x25519(stanza: Stanza) -> X25519Stanza:
    """The ephemeral share and body of an ``X25519`` stanza, or ``AgeFormatError``."""
    if len(stanza.args) != 1:
        raise AgeFormatError("malformed X25519 stanza: expected exactly one argument")
    share = _decode_argument(stanza.args[0], X25519_SHARE_SIZE, "X25519 share")
    _check_body(stanza)
    return X25519Stanza(share, stanza.body)


def is_low_order(share: bytes) -> bool:
    """Whether an X25519 point gives the all-zero shared secret with every key.

    Why it can be told without the key: X25519 scalars are clamped to multiples of 8, so a
    point of order dividing 8 always lands on zero and any other point never does.
    """
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(share))
    except ValueError:
        return True
    return False


def parse_scrypt(stanza: Stanza, *, max_work_factor: int = MAX_SCRYPT_WORK_FACTOR) -> ScryptStanza:
    """The salt, work factor and body of an ``scrypt`` stanza, or ``AgeFormatError``
    (also for a work factor above ``max_work_factor``)."""
    if len(stanza.args) != 2:
        raise AgeFormatError("malformed scrypt stanza: expected exactly two arguments")
    salt = _decode_argument(stanza.args[0], SCRYPT_SALT_SIZE, "scrypt salt")
    work_factor = stanza.args[1]
    if not _DECIMAL.fullmatch(work_factor):
        raise AgeFormatError("malformed scrypt stanza: invalid work factor encoding")
    # Compare as text length first, so a 10,000-digit "number" is not converted.
    if len(work_factor) > len(str(max_work_factor)) or int(work_factor) > max_work_factor:
        raise AgeFormatError(f"scrypt work factor is above the limit of {max_work_factor}")
    _check_body(stanza)
    return ScryptStanza(salt, int(work_factor), stanza.body)


def check_scrypt_alone(stanza_list: Sequence[Stanza]) -> None:
    """An scrypt stanza must be the only stanza of its header (passphrase encryption
    implies the sender knew the passphrase); raise ``AgeFormatError`` otherwise."""
    if len(stanza_list) > 1 and any(s.type == SCRYPT_TYPE for s in stanza_list):
        raise AgeFormatError("an scrypt stanza must be the only stanza in the header")
