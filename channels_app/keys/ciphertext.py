"""What the server checks of key material and age files, holding no key (SPEC §5).

A thin edge over channels_app.e2ee: it turns the age module's parse errors into the
service errors every route and frame understands.
"""

from __future__ import annotations

import io

from channels_app.e2ee import AgeError, X25519Recipient, check_age_header
from channels_app.e2ee.header import LineSource
from exchange.kernel.errors import BadRequest


def clean_recipient(text: str, *, field: str = "public_key") -> str:
    """An `age1…` X25519 recipient in canonical form, or a 400 naming the field."""
    try:
        return X25519Recipient.parse(text).to_string()
    except ValueError as exc:
        raise BadRequest(f"Not an age X25519 recipient: {exc}", field=field) from None


def clean_age_file(
    data: bytes | LineSource, *, field: str, stanza: str = "X25519", size: int | None = None
) -> None:
    """Refuse anything that is not an age v1 file for a `stanza` recipient.

    Reads at most the header (8 KiB) and rewinds a file object it was given. `size`, the
    whole file's length, lets the payload length be checked too.
    """
    if isinstance(data, bytes):
        source: LineSource = io.BytesIO(data)
        size = len(data)
    else:
        source = data
    start = source.tell()  # type: ignore[attr-defined]
    try:
        check_age_header(source, stanza_type=stanza, total_size=size)
    except AgeError as exc:
        raise BadRequest(f"Not an age file: {exc}", field=field) from None
    finally:
        source.seek(start)  # type: ignore[attr-defined]
