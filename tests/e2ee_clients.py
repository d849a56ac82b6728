"""A member's client in a few lines, on channels_app.e2ee: what the browser and the
Python client do, so server tests send real age files and check what comes back."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field

from django.test import Client

from channels_app.e2ee import (
    ScryptRecipient,
    X25519Identity,
    decrypt_bytes,
    encrypt_bytes,
    parse_identity_file,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def identity_file(identity: X25519Identity, channel: str, number: int) -> bytes:
    return f"# channel {channel} epoch {number}\n{identity.to_string()}\n".encode()


@dataclass
class Member:
    """One user's device: their identity, and the epoch identities it has learnt."""

    username: str
    client: Client
    identity: X25519Identity = field(default_factory=X25519Identity.generate)
    epochs: dict[int, X25519Identity] = field(default_factory=dict)

    def register(self) -> None:
        response = self.client.put(
            "/api/v1/keys/me",
            {"public_key": self.identity.recipient.to_string()},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content

    def share_for(self, public_key: str, channel: str, number: int) -> str:
        from channels_app.e2ee import X25519Recipient

        secret = identity_file(self.epochs[number], channel, number)
        return b64(encrypt_bytes(secret, [X25519Recipient.parse(public_key)]))

    def start_epoch(self, channel: str, number: int, *, back_link: bool = True):  # type: ignore[no-untyped-def]
        epoch = X25519Identity.generate()
        self.epochs[number] = epoch
        members = self.client.get(f"/api/v1/channels/{channel}/members").json()
        payload: dict[str, object] = {
            "number": number,
            "public_key": epoch.recipient.to_string(),
            "shares": [
                {
                    "username": m["username"],
                    "ciphertext": self.share_for(m["public_key"], channel, number),
                }
                for m in members
                if m["public_key"]
            ],
        }
        if back_link and number > 1:
            previous = identity_file(self.epochs[number - 1], channel, number - 1)
            payload["back_link"] = b64(encrypt_bytes(previous, [epoch.recipient]))
        return self.client.post(
            f"/api/v1/channels/{channel}/epochs", payload, content_type="application/json"
        )

    def fetch_share(self, channel: str, number: int) -> X25519Identity:
        response = self.client.get(f"/api/v1/channels/{channel}/epochs/{number}/share")
        assert response.status_code == 200, response.content
        plaintext = decrypt_bytes(base64.b64decode(response.json()["ciphertext"]), [self.identity])
        (epoch,) = parse_identity_file(plaintext.decode())
        self.epochs[number] = epoch
        return epoch

    def upload(self, channel: str, number: int, content: bytes, name: str = "report.pdf"):  # type: ignore[no-untyped-def]
        recipient = self.epochs[number].recipient
        meta = {
            "name": name,
            "type": "application/pdf",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        return self.client.post(
            f"/api/v1/channels/{channel}/attachments",
            {
                "epoch": number,
                "meta": io.BytesIO(encrypt_bytes(json.dumps(meta).encode(), [recipient])),
                "file": io.BytesIO(encrypt_bytes(content, [recipient])),
            },
        )


def backup_of(identity: X25519Identity, recovery_key: str) -> bytes:
    return encrypt_bytes(
        identity.to_string().encode(), [ScryptRecipient(recovery_key, work_factor=10)]
    )
