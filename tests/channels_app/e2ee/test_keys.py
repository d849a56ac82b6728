"""Keys and their string forms: what parses, what is refused, and what is never printed."""

from __future__ import annotations

import io

import pytest

from channels_app.e2ee import (
    AgeFormatError,
    AgeNoIdentityMatch,
    MalformedIdentityError,
    MalformedRecipientError,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    bech32codec,
    decrypt_bytes,
    encrypt_bytes,
    parse_identity_file,
)
from channels_app.e2ee import header as age_header

# The example keys of the age specification (C2SP age.md).
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


def test_the_spec_identity_gives_the_spec_recipient() -> None:
    identity = X25519Identity.parse(SPEC_IDENTITY)
    assert str(identity.recipient) == SPEC_RECIPIENT
    assert identity.to_string() == SPEC_IDENTITY
    assert X25519Recipient.parse(SPEC_RECIPIENT) == identity.recipient


def test_a_generated_identity_round_trips_through_its_string() -> None:
    identity = X25519Identity.generate()
    again = X25519Identity.parse(identity.to_string())
    assert again.to_string() == identity.to_string()
    assert again.recipient == identity.recipient
    assert identity.to_string().startswith("AGE-SECRET-KEY-1")
    assert str(identity.recipient).startswith("age1")


def test_repr_never_shows_the_secret() -> None:
    identity = X25519Identity.parse(SPEC_IDENTITY)
    assert SPEC_IDENTITY not in repr(identity)
    assert SPEC_IDENTITY.lower() not in repr(identity).lower()
    assert "correct horse" not in repr(ScryptIdentity("correct horse"))
    assert "correct horse" not in repr(ScryptRecipient("correct horse"))


def other_checksum(text: str) -> str:
    last = "q" if text[-1] != "q" else "p"
    return text[:-1] + last


MALFORMED_RECIPIENTS = {
    "empty": "",
    "bad checksum": other_checksum(SPEC_RECIPIENT),
    "upper case": SPEC_RECIPIENT.upper(),
    "mixed case": "A" + SPEC_RECIPIENT[1:],
    "an identity": SPEC_IDENTITY,
    "other human-readable part": bech32codec.encode("age1pq", bytes(32)),
    "too short": bech32codec.encode("age", bytes(31)),
    "too long": bech32codec.encode("age", bytes(33)),
    "low-order point": bech32codec.encode("age", bytes(32)),
    "ssh key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK",
    "garbage": "age1!!!",
}


@pytest.mark.parametrize("text", MALFORMED_RECIPIENTS.values(), ids=MALFORMED_RECIPIENTS.keys())
def test_a_malformed_recipient_raises_a_clear_value_error(text: str) -> None:
    with pytest.raises(MalformedRecipientError) as caught:
        X25519Recipient.parse(text)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value)


MALFORMED_IDENTITIES = {
    "empty": "",
    "bad checksum": other_checksum(SPEC_IDENTITY),
    "lower case": SPEC_IDENTITY.lower(),
    "a recipient": SPEC_RECIPIENT,
    "post-quantum": bech32codec.encode("age-secret-key-pq-", bytes(32), upper=True),
    "too short": bech32codec.encode("age-secret-key-", bytes(31), upper=True),
}


@pytest.mark.parametrize("text", MALFORMED_IDENTITIES.values(), ids=MALFORMED_IDENTITIES.keys())
def test_a_malformed_identity_raises_without_repeating_it(text: str) -> None:
    with pytest.raises(MalformedIdentityError) as caught:
        X25519Identity.parse(text)
    assert isinstance(caught.value, ValueError)
    if text:
        assert text not in str(caught.value)


def test_an_identity_file_may_carry_comments_and_blank_lines() -> None:
    first, second = X25519Identity.generate(), X25519Identity.generate()
    text = (
        "# channel: ops\n# epoch: 3\n\n"
        f"{first.to_string()}\n  # indented comment\n{second.to_string()}\n"
    )
    parsed = parse_identity_file(text)
    assert [identity.recipient for identity in parsed] == [first.recipient, second.recipient]


def test_an_identity_file_with_a_bad_line_names_the_line_not_its_content() -> None:
    secret = X25519Identity.generate().to_string()
    with pytest.raises(MalformedIdentityError, match="line 2") as caught:
        parse_identity_file(f"# comment\n{secret[:-1]}\n")
    assert secret[:-1] not in str(caught.value)


def test_an_identity_file_without_an_identity_is_refused() -> None:
    with pytest.raises(MalformedIdentityError):
        parse_identity_file("# only a comment\n")


def test_a_file_decrypts_with_any_of_its_recipients_only() -> None:
    alice, bob, eve = (X25519Identity.generate() for _ in range(3))
    ciphertext = encrypt_bytes(b"for alice and bob", [alice.recipient, bob.recipient])
    assert decrypt_bytes(ciphertext, [bob]) == b"for alice and bob"
    assert decrypt_bytes(ciphertext, [eve, alice]) == b"for alice and bob"
    with pytest.raises(AgeNoIdentityMatch):
        decrypt_bytes(ciphertext, [eve])


def test_a_passphrase_file_round_trips_and_a_wrong_passphrase_does_not_match() -> None:
    ciphertext = encrypt_bytes(b"backup", [ScryptRecipient("recovery code", work_factor=10)])
    assert decrypt_bytes(ciphertext, [ScryptIdentity("recovery code")]) == b"backup"
    with pytest.raises(AgeNoIdentityMatch):
        decrypt_bytes(ciphertext, [ScryptIdentity("wrong code")])
    with pytest.raises(AgeNoIdentityMatch):
        decrypt_bytes(ciphertext, [X25519Identity.generate()])


def test_scrypt_may_not_be_mixed_with_other_recipients() -> None:
    with pytest.raises(ValueError, match="only stanza"):
        encrypt_bytes(
            b"x", [ScryptRecipient("pw", work_factor=10), X25519Identity.generate().recipient]
        )
    with pytest.raises(ValueError, match="only stanza"):
        encrypt_bytes(
            b"x", [ScryptRecipient("a", work_factor=10), ScryptRecipient("b", work_factor=10)]
        )


@pytest.mark.parametrize("work_factor", [0, 23, -1])
def test_a_scrypt_recipient_refuses_an_out_of_range_work_factor(work_factor: int) -> None:
    with pytest.raises(ValueError, match="work factor"):
        ScryptRecipient("pw", work_factor=work_factor)


def with_work_factor(ciphertext: bytes, work_factor: str) -> bytes:
    source = io.BytesIO(ciphertext)
    header = age_header.parse(source)
    (stanza,) = header.stanzas
    changed = age_header.Stanza(stanza.type, (stanza.args[0], work_factor), stanza.body)
    forged = age_header.Header((changed,), header.mac, b"")
    return age_header.encode(forged) + source.read()


def test_a_work_factor_above_the_identity_limit_is_refused_before_any_work() -> None:
    ciphertext = encrypt_bytes(b"x", [ScryptRecipient("pw", work_factor=10)])
    with pytest.raises(AgeFormatError, match="above the limit of 22"):
        decrypt_bytes(with_work_factor(ciphertext, "23"), [ScryptIdentity("pw")])
    with pytest.raises(AgeFormatError, match="above the limit of 9"):
        decrypt_bytes(ciphertext, [ScryptIdentity("pw", max_work_factor=9)])
    with pytest.raises(AgeFormatError, match="above the limit"):
        decrypt_bytes(with_work_factor(ciphertext, "9" * 5000), [ScryptIdentity("pw")])


def test_an_empty_passphrase_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        ScryptRecipient("")
