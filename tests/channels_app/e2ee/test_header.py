"""The header parser and the server's keyless check of uploads."""

from __future__ import annotations

import io

import pytest

from channels_app.e2ee import (
    AgeFormatError,
    ScryptRecipient,
    X25519Identity,
    b64,
    check_age_header,
    encrypt_bytes,
)
from channels_app.e2ee import header as age_header

RECIPIENT = X25519Identity.generate().recipient
FILE = encrypt_bytes(b"attachment bytes", [RECIPIENT])


def test_it_parses_what_it_encodes_and_stops_at_the_payload() -> None:
    source = io.BytesIO(FILE)
    header = age_header.parse(source)
    assert [stanza.type for stanza in header.stanzas] == ["X25519"]
    assert source.tell() == header.size
    assert age_header.encode(header) == FILE[: header.size]


def test_a_long_stanza_body_wraps_at_64_columns_and_ends_with_a_short_line() -> None:
    for length in (0, 47, 48, 49, 96, 100):
        stanza = age_header.Stanza("grease", ("a", "b"), bytes(range(length)))
        encoded = stanza.encode()
        lines = encoded.split(b"\n")[1:-1]
        assert all(len(line) == 64 for line in lines[:-1])
        assert len(lines[-1]) < 64
        header = age_header.build([stanza], bytes(16))
        parsed = age_header.parse(io.BytesIO(age_header.encode(header)))
        assert parsed.stanzas == (stanza,)


@pytest.mark.parametrize("arguments", [("",), ("two words",), ("tab\t",), ("é",)])
def test_a_stanza_refuses_arguments_it_could_not_encode(arguments: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        age_header.Stanza("grease", arguments)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (b"", True),
        (b"AQ", True),
        (b"AR", False),
        (b"AQ==", False),
        (b"A", False),
        (b"AQ\n", False),
        (b"A Q", False),
        (b"-_", False),
    ],
)
def test_base64_is_strict_and_canonical(text: bytes, valid: bool) -> None:
    if valid:
        assert b64.encode(b64.decode(text)) == text
    else:
        with pytest.raises(ValueError):
            b64.decode(text)


NOT_AGE = {
    "empty": b"",
    "png": b"\x89PNG\r\n\x1a\n" + bytes(100),
    "text": b"hello, world\n",
    "future version": FILE.replace(b"/v1\n", b"/v2\n", 1),
    "crlf": FILE.replace(b"\n", b"\r\n", 1),
    "no stanza": b"age-encryption.org/v1\n--- " + b64.encode(bytes(32)) + b"\n" + bytes(32),
    "armored": b"-----BEGIN AGE ENCRYPTED FILE-----\n",
}


@pytest.mark.parametrize("data", NOT_AGE.values(), ids=NOT_AGE.keys())
def test_the_server_check_refuses_what_is_not_an_age_file(data: bytes) -> None:
    with pytest.raises(AgeFormatError):
        check_age_header(io.BytesIO(data))


def test_the_server_check_accepts_an_age_file_and_returns_its_header() -> None:
    header = check_age_header(io.BytesIO(FILE), total_size=len(FILE))
    assert header.stanzas[0].type == "X25519"


def test_the_server_check_refuses_an_impossible_payload_length_when_given_the_size() -> None:
    header_size = age_header.parse(io.BytesIO(FILE)).size
    two_chunks = encrypt_bytes(bytes(64 * 1024 + 1), [RECIPIENT])
    for truncated in (FILE[: header_size + 10], FILE[: header_size + 31], two_chunks[:-2]):
        with pytest.raises(AgeFormatError, match="payload length"):
            check_age_header(io.BytesIO(truncated), total_size=len(truncated))


def test_the_server_check_wants_an_x25519_stanza_unless_told_otherwise() -> None:
    backup = encrypt_bytes(b"identity", [ScryptRecipient("recovery", work_factor=10)])
    with pytest.raises(AgeFormatError, match="no X25519"):
        check_age_header(io.BytesIO(backup))
    assert check_age_header(io.BytesIO(backup), stanza_type="scrypt").stanzas[0].type == "scrypt"


def test_the_server_check_refuses_a_malformed_x25519_stanza() -> None:
    source = io.BytesIO(FILE)
    header = age_header.parse(source)
    (stanza,) = header.stanzas
    short_share = b64.encode(bytes(31)).decode()
    for broken in (
        age_header.Stanza("X25519", (short_share,), stanza.body),
        age_header.Stanza("X25519", stanza.args, stanza.body + b"x"),
        age_header.Stanza("X25519", (*stanza.args, "extra"), stanza.body),
        age_header.Stanza("X25519", (b64.encode(bytes(32)).decode(),), stanza.body),
    ):
        forged = age_header.Header((broken,), header.mac, b"")
        with pytest.raises(AgeFormatError):
            check_age_header(
                io.BytesIO(age_header.encode(forged) + source.getvalue()[header.size :])
            )
