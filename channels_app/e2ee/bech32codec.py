"""Bech32 strings of bytes, as age encodes its keys (``age1…``, ``AGE-SECRET-KEY-1…``).

Why a wrapper around the ``bech32`` package (Pieter Wuille's reference implementation):
age uses plain Bech32 (BIP 173), not Bech32m, over 8-bit data, and wants all-upper or
all-lower strings with the checksum computed over the lower-case form. This module turns the
package's 5-bit groups into bytes and back, checks the human-readable part, and rejects
non-zero padding bits. The package does not enforce BIP 173's 90-character limit, which age
drops too; age's X25519 keys are at most 74 characters anyway.
"""

from __future__ import annotations

import bech32


def encode(hrp: str, data: bytes, *, upper: bool = False) -> str:
    """Encode ``data`` under the human-readable part ``hrp`` (given in lower case)."""
    words = bech32.convertbits(data, 8, 5, True)
    if words is None:  # pragma: no cover - 8-bit input always converts
        raise ValueError("cannot convert data to 5-bit groups")
    text = bech32.bech32_encode(hrp.lower(), words)
    return text.upper() if upper else text


def decode(text: str) -> tuple[str, bytes]:
    """Return ``(hrp, data)`` with ``hrp`` in lower case. Raises ``ValueError`` on a bad
    checksum, mixed case, an invalid character or non-zero padding bits."""
    hrp, words = bech32.bech32_decode(text)
    if hrp is None or words is None:
        raise ValueError("invalid Bech32 string")
    data = bech32.convertbits(words, 5, 8, False)
    if data is None:
        raise ValueError("invalid Bech32 data padding")
    return hrp, bytes(data)
