"""Conformance: every C2SP CCTV age vector for what we implement.

We implement X25519 and scrypt identities, the header, STREAM and ASCII armor, so every
vector runs except those needing the post-quantum hybrid identities (``AGE-SECRET-KEY-PQ-``),
which are counted as not supported. ``test_it_selects_the_expected_vectors`` pins how many
vectors of each family run, so an empty or shrunken selection fails instead of passing.
Under CI=true a missing package fails; elsewhere the tests skip, saying why.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from typing import BinaryIO

import pytest

from channels_app.e2ee import (
    AgeArmorError,
    AgeError,
    AgeFormatError,
    AgeMacError,
    AgeNoIdentityMatch,
    AgePayloadError,
    ScryptIdentity,
    X25519Identity,
    check_age_header,
    decrypt,
)
from channels_app.e2ee import header as age_header
from channels_app.e2ee.age import open_payload
from channels_app.e2ee.armor import ArmoredWriter, open_armored
from channels_app.e2ee.keys import Identity
from channels_app.e2ee.primitives import payload_key
from channels_app.e2ee.stream import NONCE_SIZE, decrypt_chunks, encrypt_payload
from tests.channels_app.e2ee import cctv

VECTORS = cctv.load()
SUPPORTED = [vector for vector in VECTORS if vector.supported]
PLAIN = [vector for vector in SUPPORTED if not vector.armored]

# cctv-age 0.2.0 (pinned in package.json): vectors run per family, and those left out.
EXPECTED_SUPPORTED = {
    "armor": 32,
    "empty": 1,
    "header": 1,
    "hmac": 8,
    "scrypt": 25,
    "stanza": 14,
    "stream": 28,
    "version": 1,
    "x25519": 14,
}
EXPECTED_NOT_SUPPORTED = {"hybrid": 18, "armor": 1}
EXPECTED_OUTCOMES = {
    "success": 21,
    "header failure": 53,
    "HMAC failure": 1,
    "no match": 8,
    "payload failure": 19,
    "armor failure": 22,
}

# The failure each expectation names, most specific first.
OUTCOMES: list[tuple[type[AgeError], str]] = [
    (AgeArmorError, "armor failure"),
    (AgeMacError, "HMAC failure"),
    (AgeNoIdentityMatch, "no match"),
    (AgePayloadError, "payload failure"),
    (AgeFormatError, "header failure"),
]


def identities_of(vector: cctv.Vector) -> list[Identity]:
    found: list[Identity] = [X25519Identity.parse(text) for text in vector.identities]
    found += [ScryptIdentity(passphrase) for passphrase in vector.passphrases]
    return found


def source_of(vector: cctv.Vector) -> BinaryIO:
    raw = io.BytesIO(vector.file)
    return open_armored(raw) if vector.armored else raw


def test_the_vectors_are_installed() -> None:
    reason = cctv.missing_reason()
    if reason is None:
        assert VECTORS, "the cctv-age package exports no vector"
    elif os.environ.get("CI") == "true":
        pytest.fail(f"CCTV age vectors are required in CI: {reason}")
    else:
        pytest.skip(reason)


def test_it_selects_the_expected_vectors() -> None:
    if not VECTORS:
        pytest.skip("no CCTV vectors (see test_the_vectors_are_installed)")
    supported = Counter(vector.family for vector in SUPPORTED)
    not_supported = Counter(vector.family for vector in VECTORS if not vector.supported)
    assert dict(supported) == EXPECTED_SUPPORTED
    assert dict(not_supported) == EXPECTED_NOT_SUPPORTED
    assert dict(Counter(vector.expect for vector in SUPPORTED)) == EXPECTED_OUTCOMES
    assert all(vector.post_quantum for vector in VECTORS if not vector.supported)
    assert len(SUPPORTED) == 124
    assert len(VECTORS) == 143


@pytest.mark.parametrize("vector", SUPPORTED, ids=str)
def test_decrypting_gives_the_expected_outcome(vector: cctv.Vector) -> None:
    plaintext = io.BytesIO()
    try:
        decrypt(source_of(vector), plaintext, identities_of(vector))
    except AgeError as error:
        outcome = next(name for kind, name in OUTCOMES if isinstance(error, kind))
        assert outcome == vector.expect, f"{vector.comment or vector.name}: {error}"
        assert plaintext.getvalue() == b"", "plaintext was released before a failure"
    else:
        assert vector.expect == "success", vector.comment or vector.name
        assert hashlib.sha256(plaintext.getvalue()).digest() == vector.payload_sha256


@pytest.mark.parametrize("vector", [v for v in SUPPORTED if v.expect == "payload failure"], ids=str)
def test_the_authenticated_prefix_of_a_broken_payload_matches_its_hash(
    vector: cctv.Vector,
) -> None:
    # The testkit's rule for streaming readers: what authenticated before the error must
    # hash to ``payload``. Our ``decrypt`` releases none of it (checked above); this checks
    # the STREAM layer authenticates exactly the chunks the reference one does.
    source = source_of(vector)
    key = open_payload(source, identities_of(vector))
    authenticated = hashlib.sha256()
    with pytest.raises(AgePayloadError):
        for chunk in decrypt_chunks(key, source):
            authenticated.update(chunk)
    assert authenticated.digest() == vector.payload_sha256


@pytest.mark.parametrize("vector", [v for v in PLAIN if v.expect != "header failure"], ids=str)
def test_the_header_re_encodes_identically(vector: cctv.Vector) -> None:
    header = age_header.parse(io.BytesIO(vector.file))
    assert age_header.encode(header) == vector.file[: header.size]
    assert age_header.encode_without_mac(header.stanzas) == header.mac_input


@pytest.mark.parametrize("vector", [v for v in PLAIN if v.expect == "success"], ids=str)
def test_the_stream_re_encrypts_identically(vector: cctv.Vector) -> None:
    assert vector.file_key is not None
    source = io.BytesIO(vector.file)
    header = age_header.parse(source)
    nonce = source.read(NONCE_SIZE)
    sealed = vector.file[header.size + NONCE_SIZE :]
    key = payload_key(vector.file_key, nonce)
    plaintext = b"".join(decrypt_chunks(key, io.BytesIO(sealed)))
    resealed = io.BytesIO()
    encrypt_payload(key, io.BytesIO(plaintext), resealed)
    assert resealed.getvalue() == sealed


@pytest.mark.parametrize(
    "vector", [v for v in SUPPORTED if v.armored and v.expect != "armor failure"], ids=str
)
def test_the_armor_re_encodes_identically(vector: cctv.Vector) -> None:
    decoded = open_armored(io.BytesIO(vector.file)).read()
    out = io.BytesIO()
    writer = ArmoredWriter(out)
    writer.write(decoded)
    writer.close()
    # CRLF and whitespace around the block are tolerated on input and not reproduced.
    assert out.getvalue() == vector.file.replace(b"\r\n", b"\n").strip() + b"\n"


@pytest.mark.parametrize("vector", PLAIN, ids=str)
def test_the_server_check_refuses_exactly_the_broken_headers(vector: cctv.Vector) -> None:
    stanza_type = "scrypt" if vector.passphrases else "X25519"
    header_present = f"\n-> {stanza_type} ".encode() in vector.file
    try:
        check_age_header(io.BytesIO(vector.file), stanza_type=stanza_type)
    except AgeFormatError:
        refused = True
    else:
        refused = False
    # Failures past the header (nonce, payload) are only the payload check's business.
    header_broken = vector.expect == "header failure" and vector.name not in {
        "stream_no_nonce",
        "stream_short_nonce",
    }
    assert refused == (header_broken or not header_present)


@pytest.mark.parametrize("vector", [v for v in PLAIN if v.expect == "success"], ids=str)
def test_the_server_check_with_the_size_accepts_every_decryptable_file(
    vector: cctv.Vector,
) -> None:
    stanza_type = "scrypt" if vector.passphrases else "X25519"
    check_age_header(io.BytesIO(vector.file), stanza_type=stanza_type, total_size=len(vector.file))
