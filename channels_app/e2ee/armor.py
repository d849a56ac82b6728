"""age's ASCII armor: strict PEM with the label ``AGE ENCRYPTED FILE``.

Why strict: armor is malleable unless the reader accepts exactly one encoding, so this
reader allows only what the spec tolerates (whitespace before and after the block, CRLF or
LF line ends) and rejects everything else: headers, blank lines, lines longer than 64
columns, a short line before the last, non-canonical base64, trailing data. Both sides
stream: the reader decodes one line at a time, the writer holds at most one line.
"""

from __future__ import annotations

import base64
import io
from typing import BinaryIO

from channels_app.e2ee import b64
from channels_app.e2ee.errors import AgeArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS_PER_LINE = 64
BYTES_PER_LINE = COLUMNS_PER_LINE // 4 * 3
MAX_WHITESPACE = 1024
_LINE_LIMIT = MAX_WHITESPACE + 2


class ArmoredReader(io.RawIOBase):
    """A raw binary stream of the age file inside the armor read from ``source``.

    Raises ``AgeArmorError`` from ``read`` as soon as the armor is found malformed. Wrap it
    with ``open_armored`` to get ``readline`` for the header parser.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._started = False
        self._finished = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def _line(self) -> bytes:
        line = self._source.readline(_LINE_LIMIT)
        if not line:
            raise AgeArmorError("armored file ends before its END line")
        if not line.endswith(b"\n") and len(line) >= _LINE_LIMIT:
            raise AgeArmorError("armor line is too long")
        line = line.removesuffix(b"\n")
        return line.removesuffix(b"\r")

    def _start(self) -> None:
        skipped = 0
        while True:
            line = self._line()
            if line.strip():
                break
            skipped += len(line) + 1
            if skipped > MAX_WHITESPACE:
                raise AgeArmorError("too much whitespace before the armor")
        if line != BEGIN:
            raise AgeArmorError("the armor does not start with the age BEGIN line")
        self._started = True

    def _finish(self) -> None:
        self._finished = True
        rest = self._source.read(MAX_WHITESPACE)
        if rest.strip():
            raise AgeArmorError("data after the armor's END line")
        if len(rest) == MAX_WHITESPACE:
            raise AgeArmorError("too much whitespace after the armor")

    def _next_block(self) -> bytes:
        if not self._started:
            self._start()
        line = self._line()
        if line == END:
            self._finish()
            return b""
        if not line:
            raise AgeArmorError("empty line inside the armor")
        if len(line) > COLUMNS_PER_LINE:
            raise AgeArmorError("armor line is longer than 64 columns")
        try:
            data = b64.decode_padded(line)
        except ValueError as error:
            raise AgeArmorError(f"invalid base64 in the armor: {error}") from None
        if len(data) < BYTES_PER_LINE:
            if self._line() != END:
                raise AgeArmorError("a short armor line is not followed by the END line")
            self._finish()
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view):
            if not self._pending:
                if self._finished:
                    break
                self._pending = self._next_block()
                continue
            count = min(len(view) - written, len(self._pending))
            view[written : written + count] = self._pending[:count]
            self._pending = self._pending[count:]
            written += count
        return written


def open_armored(source: BinaryIO) -> BinaryIO:
    """A buffered binary stream (with ``readline``) of the age file armored in ``source``."""
    return io.BufferedReader(ArmoredReader(source))


class ArmoredWriter:
    """Writes armor to ``destination``: call ``write`` with the age file, then ``close``
    (which writes the END line but leaves ``destination`` open)."""

    def __init__(self, destination: BinaryIO) -> None:
        self._destination = destination
        self._pending = bytearray()
        self._closed = False
        destination.write(BEGIN + b"\n")

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed ArmoredWriter")
        self._pending += data
        full = len(self._pending) // BYTES_PER_LINE * BYTES_PER_LINE
        if full:
            chunk = bytes(self._pending[:full])
            del self._pending[:full]
            for start in range(0, full, BYTES_PER_LINE):
                line = chunk[start : start + BYTES_PER_LINE]
                self._destination.write(base64.b64encode(line) + b"\n")
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pending:
            self._destination.write(base64.b64encode(bytes(self._pending)) + b"\n")
        self._destination.write(END + b"\n")
