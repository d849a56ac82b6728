"""Strict JSON decoding for every JSON body and WebSocket frame a client sends.

Python's `json.loads` is lenient where a lenient reader becomes an attack surface:
it accepts `NaN` and `Infinity` (not JSON), keeps the last of duplicate keys (two
readers of the same document may then disagree on what it says), turns `1e999` into
an infinite float, and raises `RecursionError` (not `ValueError`) on deep nesting; and
it lets `\u0000` through, which PostgreSQL refuses to store (a 500, not a 400). Here each
of those is a `BadRequest` with the reason, the same over HTTP and the socket.
"""

from __future__ import annotations

import json
from typing import Any

from exchange.kernel.errors import BadRequest

# Far deeper than any body or frame of SPEC §3/§4 (they nest three levels), and well
# below the interpreter's recursion limit (1000), which the C decoder would hit.
MAX_DEPTH = 512


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadRequest(f"The number {text[:40]} is out of range.")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    return isinstance(value, list) and any(isinstance(v, str) and "\x00" in v for v in value)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadRequest(f"The key {key[:40]!r} appears twice.", field=key[:100])
        if "\x00" in key or _has_nul(value):
            # No text of this API may hold a NUL, and PostgreSQL cannot store one.
            raise BadRequest(
                "Text may not contain NUL (U+0000).", field=key[:100].replace("\x00", "")
            )
        result[key] = value
    return result


def _depth_within(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest at most `limit` deep (a linear scan, run
    before the recursive parser so that it never sees a hostile depth)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


def loads_object(data: str | bytes) -> dict[str, Any]:
    """Decode one JSON object from `data`, or raise `BadRequest` saying what is wrong.

    Bytes must be UTF-8. The top level must be an object; nesting is capped at
    `MAX_DEPTH`; NaN, Infinity, out-of-range numbers, duplicate keys and NUL characters in
    strings are refused.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("The body is not valid UTF-8.") from None
    else:
        text = data
    if not _depth_within(text, MAX_DEPTH):
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels.")
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except BadRequest:
        raise
    except (ValueError, RecursionError) as exc:
        # ValueError covers malformed JSON and integers of more than 4300 digits.
        raise BadRequest(f"Not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(value, dict):
        raise BadRequest("The JSON document must be an object.")
    return value
