"""Unpadded, strict, canonical base64, as the age header uses it.

Why not ``base64.b64decode`` alone: it ignores non-canonical trailing bits and, without
``validate=True``, skips unknown characters. age forbids both (and ``=`` padding), so that
a header has exactly one encoding and cannot be altered without breaking its MAC.
"""

from __future__ import annotations

import base64
import binascii
import re

_ALPHABET = re.compile(rb"[A-Za-z0-9+/]*")


def encode(data: bytes) -> bytes:
    """Standard base64 of ``data`` without ``=`` padding."""
    return base64.b64encode(data).rstrip(b"=")


def decode(text: bytes) -> bytes:
    """Decode unpadded standard base64, rejecting padding, newlines, any character outside
    the alphabet and non-canonical encodings. Raises ``ValueError``."""
    if not _ALPHABET.fullmatch(text):
        raise ValueError("invalid base64 character")
    if len(text) % 4 == 1:
        raise ValueError("invalid base64 length")
    padded = text + b"=" * (-len(text) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
    except binascii.Error as error:
        raise ValueError("invalid base64") from error
    if encode(data) != text:
        raise ValueError("non-canonical base64")
    return data


def decode_padded(text: bytes) -> bytes:
    """Decode padded standard base64 (as ASCII armor uses it), strict and canonical.
    Raises ``ValueError``."""
    if len(text) % 4 != 0:
        raise ValueError("base64 length is not a multiple of 4")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError("invalid base64") from error
    if base64.b64encode(data) != text:
        raise ValueError("non-canonical base64")
    return data
