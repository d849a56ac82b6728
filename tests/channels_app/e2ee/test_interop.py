"""Interoperability both ways with the Debian ``age`` command and with pyrage (rage).

What Exchange writes must decrypt with any age implementation given the right key (SPEC
section 5), and what they write must decrypt here. X25519 with the ``age`` command through
identity files, scrypt through a pseudo-terminal (``age`` reads passphrases from the
terminal only); both with pyrage in-process. Under CI=true a missing ``age`` command fails;
elsewhere these tests skip and say to run scripts/tools-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyrage
import pytest

from channels_app.e2ee import (
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    decrypt_bytes,
    encrypt_bytes,
    parse_identity_file,
)
from channels_app.e2ee.armor import open_armored
from channels_app.e2ee.stream import CHUNK_SIZE
from tests.channels_app.e2ee.tty import run_with_passphrase

PLAINTEXTS = {
    "empty": b"",
    "short": "a short note, with ünïcödé\n".encode(),
    "one full chunk": os.urandom(CHUNK_SIZE),
    "three chunks and a bit": os.urandom(3 * CHUNK_SIZE + 7),
}
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def age_command() -> str:
    path = shutil.which("age")
    if path is None or shutil.which("age-keygen") is None:
        reason = "the age command is not installed (run scripts/tools-up)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def run(*argv: str) -> bytes:
    return subprocess.run(argv, check=True, capture_output=True, timeout=60).stdout


@pytest.mark.parametrize("plaintext", PLAINTEXTS.values(), ids=PLAINTEXTS.keys())
def test_age_decrypts_what_we_encrypt_to_an_x25519_recipient(
    age_command: str, tmp_path: Path, plaintext: bytes
) -> None:
    identity = X25519Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# channel: ops, epoch 1\n{identity.to_string()}\n")
    (tmp_path / "file.age").write_bytes(encrypt_bytes(plaintext, [identity.recipient]))
    assert run(age_command, "-d", "-i", str(key_file), str(tmp_path / "file.age")) == plaintext


@pytest.mark.parametrize("plaintext", PLAINTEXTS.values(), ids=PLAINTEXTS.keys())
def test_we_decrypt_what_age_encrypts_to_an_x25519_recipient(
    age_command: str, tmp_path: Path, plaintext: bytes
) -> None:
    key_file = tmp_path / "key.txt"
    run("age-keygen", "-o", str(key_file))
    (identity,) = parse_identity_file(key_file.read_text())
    (tmp_path / "plain").write_bytes(plaintext)
    run(
        age_command,
        "-r",
        str(identity.recipient),
        "-o",
        str(tmp_path / "file.age"),
        str(tmp_path / "plain"),
    )
    assert decrypt_bytes((tmp_path / "file.age").read_bytes(), [identity]) == plaintext


def test_our_recipient_string_is_the_one_age_keygen_prints(
    age_command: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "key.txt"
    run("age-keygen", "-o", str(key_file))
    (identity,) = parse_identity_file(key_file.read_text())
    printed = run("age-keygen", "-y", str(key_file)).decode().strip()
    assert str(identity.recipient) == printed
    assert X25519Recipient.parse(printed) == identity.recipient
    assert identity.to_string() in key_file.read_text()


def test_we_decrypt_a_file_age_armored_to_several_recipients(
    age_command: str, tmp_path: Path
) -> None:
    ours = X25519Identity.generate()
    plaintext = PLAINTEXTS["three chunks and a bit"]
    (tmp_path / "plain").write_bytes(plaintext)
    others = [str(X25519Identity.generate().recipient) for _ in range(2)]
    run(
        age_command,
        "-a",
        "-r",
        others[0],
        "-r",
        str(ours.recipient),
        "-r",
        others[1],
        "-o",
        str(tmp_path / "file.age"),
        str(tmp_path / "plain"),
    )
    with (tmp_path / "file.age").open("rb") as armored:
        assert decrypt_bytes(open_armored(armored).read(), [ours]) == plaintext


def test_age_decrypts_what_we_encrypt_with_a_passphrase(age_command: str, tmp_path: Path) -> None:
    plaintext = PLAINTEXTS["three chunks and a bit"]
    recipient = ScryptRecipient(PASSPHRASE, work_factor=12)
    (tmp_path / "file.age").write_bytes(encrypt_bytes(plaintext, [recipient]))
    out = tmp_path / "plain"
    code, screen = run_with_passphrase(
        [age_command, "-d", "-o", str(out), str(tmp_path / "file.age")], PASSPHRASE
    )
    assert code == 0, screen
    assert out.read_bytes() == plaintext


def test_we_decrypt_what_age_encrypts_with_a_passphrase(age_command: str, tmp_path: Path) -> None:
    plaintext = PLAINTEXTS["three chunks and a bit"]
    (tmp_path / "plain").write_bytes(plaintext)
    code, screen = run_with_passphrase(
        [age_command, "-p", "-o", str(tmp_path / "file.age"), str(tmp_path / "plain")], PASSPHRASE
    )
    assert code == 0, screen
    ciphertext = (tmp_path / "file.age").read_bytes()
    assert b"\n-> scrypt " in ciphertext
    assert decrypt_bytes(ciphertext, [ScryptIdentity(PASSPHRASE)]) == plaintext


@pytest.mark.parametrize("plaintext", PLAINTEXTS.values(), ids=PLAINTEXTS.keys())
def test_pyrage_decrypts_what_we_encrypt_to_an_x25519_recipient(plaintext: bytes) -> None:
    identity = X25519Identity.generate()
    ciphertext = encrypt_bytes(plaintext, [identity.recipient])
    theirs = pyrage.x25519.Identity.from_str(identity.to_string())
    assert pyrage.decrypt(ciphertext, [theirs]) == plaintext


@pytest.mark.parametrize("plaintext", PLAINTEXTS.values(), ids=PLAINTEXTS.keys())
def test_we_decrypt_what_pyrage_encrypts_to_an_x25519_recipient(plaintext: bytes) -> None:
    theirs = pyrage.x25519.Identity.generate()
    identity = X25519Identity.parse(str(theirs))
    assert str(identity.recipient) == str(theirs.to_public())
    ciphertext = pyrage.encrypt(plaintext, [theirs.to_public()])
    assert decrypt_bytes(ciphertext, [identity]) == plaintext


def test_pyrage_decrypts_what_we_encrypt_with_a_passphrase() -> None:
    plaintext = PLAINTEXTS["three chunks and a bit"]
    ciphertext = encrypt_bytes(plaintext, [ScryptRecipient(PASSPHRASE, work_factor=12)])
    assert pyrage.passphrase.decrypt(ciphertext, PASSPHRASE) == plaintext


def test_we_decrypt_what_pyrage_encrypts_with_a_passphrase() -> None:
    plaintext = PLAINTEXTS["short"]
    ciphertext = pyrage.passphrase.encrypt(plaintext, PASSPHRASE)
    assert decrypt_bytes(ciphertext, [ScryptIdentity(PASSPHRASE)]) == plaintext
