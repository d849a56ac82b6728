"""Input shapes of the key routes (SPEC §3, §5): identity keys, backups, epochs, shares.

Key material travels as standard base64 with padding; anything else is refused before a
service sees it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import BeforeValidator, Field, StrictInt, StrictStr

from exchange.kernel.schema import Strict


def _decode_base64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not standard base64 with padding") from None


Base64 = Annotated[bytes, BeforeValidator(_decode_base64)]


def b64(data: bytes | memoryview | None) -> str | None:
    return None if data is None else base64.b64encode(bytes(data)).decode("ascii")


class IdentityKeyIn(Strict):
    public_key: StrictStr = Field(max_length=100)


class BackupIn(Strict):
    backup: Base64


class ShareIn(Strict):
    username: StrictStr = Field(max_length=150)
    ciphertext: Base64


class EpochIn(Strict):
    number: StrictInt = Field(ge=1)
    public_key: StrictStr = Field(max_length=100)
    back_link: Base64 | None = None
    shares: list[ShareIn] = Field(max_length=5000)


class DeliveryIn(ShareIn):
    epoch: StrictInt = Field(ge=1)


class DeliveriesIn(Strict):
    shares: list[DeliveryIn] = Field(max_length=5000)
