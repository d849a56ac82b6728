"""The user's identity key, its recovery-code backup, and the channels' epoch keys.

Formats are the browser's (static/js/keys.js, epochs.js), so a key made here restores in a
browser and the other way round:
- recovery code: 20 random bytes in RFC 4648 base32, 32 characters in 8 groups of 4
  joined by `-`; typed codes are normalised (any case, spaces or dashes, 0 for O, 8 for B);
- backup: the `AGE-SECRET-KEY-1…` string encrypted with age's scrypt recipient (work
  factor 2^15) under the normalised code;
- an epoch key (share, back-link): an age identity file `# channel SLUG epoch N` then the
  secret line, encrypted to a member's identity key or to the next epoch's recipient.
Epoch secrets are never written to disk: they are fetched (as the caller's share) and
walked back through back-links when needed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

from channels_app.e2ee import (
    AgeError,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    decrypt_bytes,
    encrypt_bytes,
    parse_identity_file,
)
from channels_app.e2ee.errors import MalformedIdentityError, MalformedRecipientError
from exchange_client.client import JSON, Client
from exchange_client.config import Store
from exchange_client.errors import ExchangeError

RECOVERY_BYTES = 20
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SCRYPT_LOG_N = 15  # the browser's: the code is random and long, work adds nothing


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ExchangeError("bad_answer", "the server sent malformed base64") from None


# --- recovery codes -------------------------------------------------------------------


def new_recovery_code() -> str:
    text = base64.b32encode(os.urandom(RECOVERY_BYTES)).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalize_recovery_code(typed: str) -> str:
    """The code as typed, in the one form that is the scrypt passphrase."""
    text = re.sub(r"[\s-]", "", typed.upper()).replace("0", "O").replace("8", "B")
    if len(text) != 32 or any(c not in BASE32 for c in text):
        raise ExchangeError("key", "that is not a recovery code (32 letters and digits)")
    return "-".join(text[i : i + 4] for i in range(0, 32, 4))


def fingerprint(recipient: str) -> str:
    """The browser's: the first 128 bits of SHA-256 of the `age1…` string, 8 groups of 4."""
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


# --- the identity ---------------------------------------------------------------------


def identity_file_text(identity: X25519Identity, note: str) -> str:
    recipient = identity.recipient.to_string()
    return f"# {note}\n# public key: {recipient}\n{identity.to_string()}\n"


def load_identity(store: Store) -> X25519Identity:
    text = store.read_identity()
    if text is None:
        raise ExchangeError(
            "key",
            f"no identity key in {store.identity_path} (run exchange-cli keygen or key restore)",
        )
    try:
        return parse_identity_file(text)[0]
    except MalformedIdentityError as error:
        raise ExchangeError("key", f"{store.identity_path}: {error}") from None


def seal_backup(identity: X25519Identity, code: str) -> str:
    """The backup the server keeps: base64 of the scrypt-encrypted secret string."""
    recipient = ScryptRecipient(normalize_recovery_code(code), work_factor=SCRYPT_LOG_N)
    return b64encode(encrypt_bytes(identity.to_string().encode(), [recipient]))


def open_backup(backup_b64: str, code: str) -> X25519Identity:
    try:
        plaintext = decrypt_bytes(
            b64decode(backup_b64), [ScryptIdentity(normalize_recovery_code(code))]
        )
    except AgeError:
        raise ExchangeError("key", "the recovery code does not open the backup") from None
    for line in plaintext.decode("utf-8", errors="replace").splitlines():
        if line.strip().startswith("AGE-SECRET-KEY-1"):
            try:
                return X25519Identity.parse(line.strip())
            except MalformedIdentityError:
                break
    raise ExchangeError("key", "the backup holds no identity key")


def keygen(client: Client, store: Store, *, force: bool = False) -> tuple[X25519Identity, str]:
    """Make an identity, back it up, keep it here, register it; return it and its code.

    The browser's order: the backup first, then the local copy, then the public key, so an
    interrupted run leaves a backup the next run replaces or a local key not yet in use."""
    if store.read_identity() is not None and not force:
        raise ExchangeError(
            "key", f"{store.identity_path} already holds a key (--force replaces it everywhere)"
        )
    identity = X25519Identity.generate()
    code = new_recovery_code()
    client.put_backup(seal_backup(identity, code))
    me = client.me()
    store.write_identity(
        identity_file_text(identity, f"exchange-cli identity of {me.get('username')}")
    )
    client.register_key(identity.recipient.to_string())
    return identity, code


def backup_again(client: Client, store: Store) -> str:
    """Back the local identity up under a new recovery code (the old one stops working)."""
    identity = load_identity(store)
    code = new_recovery_code()
    client.put_backup(seal_backup(identity, code))
    return code


def restore(client: Client, store: Store, code: str) -> X25519Identity:
    """Open the server's backup with `code`, keep the identity here, and register it again
    if the server holds another key (the browser does the same)."""
    identity = open_backup(client.backup(), code)
    me = client.me()
    store.write_identity(
        identity_file_text(identity, f"exchange-cli identity of {me.get('username')}")
    )
    if client.my_key() != identity.recipient.to_string():
        client.register_key(identity.recipient.to_string())
    return identity


# --- epoch keys -----------------------------------------------------------------------


def epoch_file(channel: str, number: int, identity: X25519Identity) -> bytes:
    return f"# channel {channel} epoch {number}\n{identity.to_string()}\n".encode()


def _seal_to(public_key: str, plaintext: bytes) -> str:
    try:
        recipient = X25519Recipient.parse(public_key)
    except MalformedRecipientError as error:
        raise ExchangeError("key", f"a member's key is not an age recipient: {error}") from None
    return b64encode(encrypt_bytes(plaintext, [recipient]))


def _open_epoch_file(identity: X25519Identity, sealed_b64: str) -> X25519Identity:
    try:
        text = decrypt_bytes(b64decode(sealed_b64), [identity]).decode("utf-8", errors="replace")
        return parse_identity_file(text)[0]
    except (AgeError, MalformedIdentityError) as error:
        raise ExchangeError("decrypt", f"a channel key does not open: {error}") from None


@dataclass
class EpochKeys:
    """The epoch identities of one channel that this user can reach, learnt on demand."""

    client: Client
    channel: str
    identity: X25519Identity
    known: dict[int, X25519Identity] = field(default_factory=dict)
    _epochs: list[JSON] | None = None

    def epochs(self, *, fresh: bool = False) -> list[JSON]:
        if self._epochs is None or fresh:
            self._epochs = sorted(self.client.epochs(self.channel), key=lambda e: int(e["number"]))
        return self._epochs

    def _own(self, number: int) -> X25519Identity | None:
        if number in self.known:
            return self.known[number]
        try:
            sealed = self.client.epoch_share(self.channel, number)
        except ExchangeError as error:
            if error.status == 404:
                return None
            raise
        self.known[number] = _open_epoch_file(self.identity, sealed)
        return self.known[number]

    def identity_for(self, number: int) -> X25519Identity | None:
        """Epoch `number`'s identity: the caller's own share, else the nearest later share
        walked back through back-links (history `all`); None when out of reach."""
        own = self._own(number)
        if own is not None:
            return own
        later = [e for e in self.epochs(fresh=True) if int(e["number"]) > number]
        for start in later:
            held = self._own(int(start["number"]))
            if held is None:
                continue
            by_number = {int(e["number"]): e for e in self.epochs()}
            current, walk = held, int(start["number"])
            while walk > number:
                link = by_number.get(walk, {}).get("back_link")
                if not link or walk - 1 not in by_number:
                    return None  # since_join: no way back
                current = _open_epoch_file(current, link)
                walk -= 1
                self.known[walk] = current
            return current
        return None

    def current_for_encryption(self) -> tuple[int, X25519Identity]:
        """The current epoch's number and identity, starting epoch 1 (or the one after a
        stale epoch) as the browser does when the channel has none to encrypt to."""
        for _ in range(3):
            detail = self.client.channel(self.channel)
            number, stale = detail.get("epoch"), bool(detail.get("epoch_stale"))
            if number is not None and not stale:
                identity = self.identity_for(int(number))
                if identity is None:
                    raise ExchangeError(
                        "key",
                        f"no key of epoch {number} of {self.channel} for you yet: a member's"
                        " client delivers it (exchange-cli share-pending)",
                    )
                return int(number), identity
            self._start(
                0 if number is None else int(number), history=detail.get("history_visibility")
            )
        raise ExchangeError("key", f"could not start a key epoch in {self.channel}")

    def _start(self, current: int, *, history: Any) -> int:
        """Start epoch `current` + 1; return how many shares it carries (0 when another
        client started it first)."""
        epoch = X25519Identity.generate()
        number = current + 1
        payload: JSON = {"number": number, "public_key": epoch.recipient.to_string()}
        if current and history == "all":
            previous = self.identity_for(current)
            if previous is not None:
                payload["back_link"] = b64encode(
                    encrypt_bytes(epoch_file(self.channel, current, previous), [epoch.recipient])
                )
        secret = epoch_file(self.channel, number, epoch)
        for _ in range(3):
            members = [m for m in self.client.members(self.channel) if m.get("public_key")]
            payload["shares"] = [
                {"username": m["username"], "ciphertext": _seal_to(m["public_key"], secret)}
                for m in members
            ]
            try:
                self.client.start_epoch(self.channel, payload)
            except ExchangeError as error:
                if error.status == 409 and (
                    "missing" in error.detail or "unexpected" in error.detail
                ):
                    continue  # the members changed meanwhile: make the shares again
                if error.status == 409:
                    return 0  # someone else started it first
                raise
            self.known[number] = epoch
            self._epochs = None
            return len(payload["shares"])
        return 0

    def deliver_pending(self) -> int:
        """Deliver the shares members wait for from the epochs this user holds; return how
        many were delivered (0 when another member was first: the server asks again).

        When the current epoch is stale (someone left), the remaining members wait for the
        next one rather than for shares (SPEC §5, Leaving; the server sends
        `shares.pending` for that too): it is started here, with a share for each of them."""
        detail = self.client.channel(self.channel)
        if detail.get("epoch") is not None and detail.get("epoch_stale"):
            current = int(detail["epoch"])
            if self.identity_for(current) is None:
                return 0  # only a holder of the stale epoch can link back to it
            return self._start(current, history=detail.get("history_visibility"))
        pending = self.client.pending_shares(self.channel)
        shares = []
        for item in pending:
            held = self.identity_for(int(item["epoch"]))
            if held is None or not item.get("public_key"):
                continue
            sealed = _seal_to(
                str(item["public_key"]), epoch_file(self.channel, int(item["epoch"]), held)
            )
            shares.append(
                {"epoch": item["epoch"], "username": item["username"], "ciphertext": sealed}
            )
        if not shares:
            return 0
        try:
            self.client.deliver_shares(self.channel, shares)
        except ExchangeError as error:
            if error.status == 409:
                return 0
            raise
        return len(shares)
