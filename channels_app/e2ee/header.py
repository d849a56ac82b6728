"""The age v1 header: parse, encode, MAC, and the server's keyless check.

Why strict: the header MAC covers the exact bytes read, so the parser accepts only the one
canonical encoding of each header (LF line ends, canonical unpadded base64, 64-column body
lines ending with a short line); anything else is an ``AgeFormatError`` rather than a MAC
failure later. Why capped: the parser reads at most ``MAX_HEADER_BYTES`` before it gives
up, so a hostile upload cannot make the server buffer an endless "header".
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from channels_app.e2ee import b64, stanzas, stream
from channels_app.e2ee.errors import AgeFormatError, AgeMacError
from channels_app.e2ee.primitives import header_mac

VERSION_LINE = b"age-encryption.org/v1\n"
MAX_HEADER_BYTES = 8192
COLUMNS_PER_LINE = 64
BYTES_PER_LINE = COLUMNS_PER_LINE // 4 * 3
MAC_SIZE = 32
_STANZA_PREFIX = b"-> "
_MAC_PREFIX = b"---"


class LineSource(Protocol):
    """What the parser reads from: binary files, ``BytesIO``, ``BufferedReader``, and
    Django's ``File``/``UploadedFile`` all have ``readline(limit)``."""

    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its type (first argument), further arguments, and body."""

    type: str
    args: tuple[str, ...] = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        for argument in (self.type, *self.args):
            if not argument or not all(33 <= ord(char) <= 126 for char in argument):
                raise ValueError("stanza arguments are non-empty printable ASCII without spaces")

    def encode(self) -> bytes:
        """The stanza as it appears in a header, body wrapped at 64 columns and always
        ending with a short (possibly empty) line."""
        out = bytearray(_STANZA_PREFIX)
        out += " ".join((self.type, *self.args)).encode("ascii")
        out += b"\n"
        body = b64.encode(self.body)
        for start in range(0, len(body) + 1, COLUMNS_PER_LINE):
            out += body[start : start + COLUMNS_PER_LINE] + b"\n"
        return bytes(out)


@dataclass(frozen=True)
class Header:
    """A parsed (or built) header.

    ``mac_input`` is the exact byte string the MAC covers (version line to ``---``
    included): the bytes read for a parsed header, the encoding for a built one.
    ``size`` is the length of the whole header, MAC line included, in bytes.
    """

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes

    @property
    def size(self) -> int:
        return len(self.mac_input) + 1 + len(b64.encode(self.mac)) + 1

    def verify_mac(self, file_key: bytes) -> None:
        """Raise ``AgeMacError`` unless the MAC matches the header under ``file_key``."""
        if not hmac.compare_digest(header_mac(file_key, self.mac_input), self.mac):
            raise AgeMacError("header MAC does not match: the header was altered")


def encode_without_mac(stanza_list: Iterable[Stanza]) -> bytes:
    """The header bytes the MAC covers: version line, stanzas, and ``---``."""
    out = bytearray(VERSION_LINE)
    for stanza in stanza_list:
        out += stanza.encode()
    out += _MAC_PREFIX
    return bytes(out)


def build(stanza_list: Iterable[Stanza], file_key: bytes) -> Header:
    """A header for ``stanza_list``, MACed with ``file_key``.

    Raises ``ValueError`` when there is no stanza or the header would exceed
    ``MAX_HEADER_BYTES`` (no reader of ours would accept it).
    """
    stanza_tuple = tuple(stanza_list)
    if not stanza_tuple:
        raise ValueError("an age header needs at least one recipient stanza")
    mac_input = encode_without_mac(stanza_tuple)
    header = Header(stanza_tuple, header_mac(file_key, mac_input), mac_input)
    if header.size > MAX_HEADER_BYTES:
        raise ValueError(f"header of {header.size} bytes exceeds {MAX_HEADER_BYTES} bytes")
    return header


def encode(header: Header) -> bytes:
    """The header's canonical encoding, re-serialised from its stanzas and MAC."""
    return encode_without_mac(header.stanzas) + b" " + b64.encode(header.mac) + b"\n"


class _LineReader:
    """Reads LF-terminated lines, never more than ``MAX_HEADER_BYTES`` in all."""

    def __init__(self, source: LineSource) -> None:
        self._source = source
        self.consumed = bytearray()

    def next_line(self) -> bytes:
        remaining = MAX_HEADER_BYTES - len(self.consumed)
        if remaining <= 0:
            raise AgeFormatError(f"header is longer than {MAX_HEADER_BYTES} bytes")
        line = self._source.readline(remaining)
        if not line.endswith(b"\n"):
            if len(line) >= remaining:
                raise AgeFormatError(f"header is longer than {MAX_HEADER_BYTES} bytes")
            if not line and not self.consumed:
                raise AgeFormatError("file is empty")
            raise AgeFormatError("header is truncated")
        self.consumed += line
        return line[:-1]


def _parse_arguments(line: bytes) -> tuple[str, ...]:
    parts = line[len(_STANZA_PREFIX) :].split(b" ")
    for part in parts:
        if not part or any(byte < 33 or byte > 126 for byte in part):
            raise AgeFormatError("malformed stanza argument line")
    return tuple(part.decode("ascii") for part in parts)


def _parse_body(lines: _LineReader) -> bytes:
    body = bytearray()
    while True:
        line = lines.next_line()
        if len(line) > COLUMNS_PER_LINE:
            raise AgeFormatError("stanza body line is longer than 64 columns")
        try:
            chunk = b64.decode(line)
        except ValueError as error:
            if line.startswith((_MAC_PREFIX, _STANZA_PREFIX.rstrip())):
                raise AgeFormatError("stanza ended without a short body line") from error
            raise AgeFormatError(f"malformed stanza body line: {error}") from error
        body += chunk
        if len(chunk) < BYTES_PER_LINE:
            return bytes(body)


def _parse_mac(line: bytes) -> bytes:
    if not line.startswith(_MAC_PREFIX + b" "):
        raise AgeFormatError("malformed MAC line")
    try:
        mac = b64.decode(line[len(_MAC_PREFIX) + 1 :])
    except ValueError as error:
        raise AgeFormatError(f"malformed MAC line: {error}") from error
    if len(mac) != MAC_SIZE:
        raise AgeFormatError("malformed MAC line: the MAC is not 32 bytes")
    return mac


def parse(source: LineSource) -> Header:
    """Read one header from ``source``, leaving it positioned at the payload.

    ``source`` needs ``readline(limit)`` (files, ``BytesIO``, ``BufferedReader``, Django's
    uploaded files). Raises ``AgeFormatError`` on anything but a well-formed v1 header of
    at most ``MAX_HEADER_BYTES``; nothing past the header is read.
    """
    lines = _LineReader(source)
    version = lines.next_line()
    if version + b"\n" != VERSION_LINE:
        if version.startswith(b"age-encryption.org/"):
            raise AgeFormatError("unsupported age format version")
        raise AgeFormatError("not an age file: unexpected first line")
    found: list[Stanza] = []
    while True:
        line = lines.next_line()
        if line.startswith(_MAC_PREFIX):
            mac = _parse_mac(line)
            mac_input = bytes(lines.consumed[: -len(line) - 1]) + _MAC_PREFIX
            break
        if not line.startswith(_STANZA_PREFIX):
            raise AgeFormatError("malformed stanza opening line")
        arguments = _parse_arguments(line)
        found.append(Stanza(arguments[0], arguments[1:], _parse_body(lines)))
    if not found:
        raise AgeFormatError("header has no recipient stanza")
    return Header(tuple(found), mac, mac_input)


def check_age_header(
    fileobj: LineSource, *, stanza_type: str = "X25519", total_size: int | None = None
) -> Header:
    """What the server checks without keys before it stores an upload.

    The header parses (version line, stanzas, MAC line, at most 8 KiB); at least one stanza
    is of ``stanza_type`` (``"X25519"`` for attachments and key shares, ``"scrypt"`` for key
    backups); every ``X25519`` and ``scrypt`` stanza has the shape its type requires (and no
    X25519 share is a low-order point), and an ``scrypt`` stanza stands alone. With
    ``total_size`` (the upload's length in bytes), the payload must also have a length a
    STREAM payload can have: that refuses uploads cut inside the nonce or first tag, or
    ending in an impossible chunk, though only a key holder can detect every truncation.
    Reads only the header from ``fileobj``: seek back to store the file. Returns the
    header; raises ``AgeFormatError`` with the reason.
    """
    header = parse(fileobj)
    if not any(stanza.type == stanza_type for stanza in header.stanzas):
        raise AgeFormatError(f"header has no {stanza_type} recipient stanza")
    stanzas.check_scrypt_alone(header.stanzas)
    for stanza in header.stanzas:
        if stanza.type == stanzas.X25519_TYPE:
            if stanzas.is_low_order(stanzas.parse_x25519(stanza).share):
                raise AgeFormatError("an X25519 share is a low-order point")
        elif stanza.type == stanzas.SCRYPT_TYPE:
            stanzas.parse_scrypt(stanza)
    if total_size is not None and not stream.is_valid_payload_size(total_size - header.size):
        raise AgeFormatError("payload length is not that of a complete age payload")
    return header
