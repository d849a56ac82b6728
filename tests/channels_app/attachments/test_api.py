"""Encrypted attachments over the HTTP API: what is stored is what was sent, and what
the server keeps reveals neither the content nor the name (SPEC §5)."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import AsyncClient

from channels_app.e2ee import decrypt_bytes, encrypt_bytes
from channels_app.models import Attachment
from permissions.membership.services import ban_create
from tests import factories
from tests.conftest import World, api_client
from tests.e2ee_clients import Member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def members(world: World) -> dict[str, Member]:
    found = {
        who: Member(getattr(world, who).username, api_client(getattr(world, who)))
        for who in ("owner", "member", "observer")
    }
    for m in found.values():
        m.register()
    assert found["member"].start_epoch(world.channel.slug, 1).status_code == 201
    for m in found.values():
        m.fetch_share(world.channel.slug, 1)
    return found


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db(transaction=True)
async def test_an_upload_is_served_back_byte_for_byte(
    world: World, members: dict[str, Member]
) -> None:
    """Through the ASGI handler, as the server serves it: streamed, never read whole."""
    content = os.urandom(600_000)
    response = await sync_to_async(members["member"].upload)(world.channel.slug, 1, content)
    assert response.status_code == 201, response.content
    uploaded = response.json()
    assert uploaded["epoch"] == 1 and uploaded["size"] > len(content)
    token = await sync_to_async(factories.token_for)(world.observer)
    download = await AsyncClient().get(
        f"/api/v1/attachments/{uploaded['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment")
    assert download.is_async  # a sync iterator would be read whole into memory under ASGI
    chunks = [chunk async for chunk in download.streaming_content]  # type: ignore[union-attr]
    assert len(chunks) > 1
    ciphertext = b"".join(chunks)
    assert len(ciphertext) == uploaded["size"] == int(download["Content-Length"])
    assert hashlib.sha256(ciphertext).hexdigest() == uploaded["sha256"]
    assert decrypt_bytes(ciphertext, [members["observer"].epochs[1]]) == content


def test_the_meta_route_gives_the_encrypted_meta(world: World, members: dict[str, Member]) -> None:
    uploaded = members["member"].upload(world.channel.slug, 1, b"hello", name="notes.txt").json()
    meta = api_client(world.owner).get(f"/api/v1/attachments/{uploaded['id']}/meta").json()
    assert meta["channel"] == world.channel.slug and meta["sha256"] == uploaded["sha256"]
    import base64
    import json

    plain = json.loads(decrypt_bytes(base64.b64decode(meta["meta"]), [members["owner"].epochs[1]]))
    assert plain["name"] == "notes.txt" and plain["size"] == 5


def test_an_observer_cannot_upload_and_an_outsider_cannot_download(
    world: World, members: dict[str, Member], media_root: Path
) -> None:
    assert members["observer"].upload(world.channel.slug, 1, b"x").status_code == 403
    uploaded = members["member"].upload(world.channel.slug, 1, b"x").json()
    outsider = api_client(world.outsider)
    assert outsider.get(f"/api/v1/attachments/{uploaded['id']}").status_code == 404
    assert outsider.get(f"/api/v1/attachments/{uploaded['id']}/meta").status_code == 404
    assert api_client(None).get(f"/api/v1/attachments/{uploaded['id']}").status_code == 401
    assert len(stored_files(media_root)) == 1


def test_uploads_to_an_unknown_or_stale_epoch_are_refused(
    world: World, members: dict[str, Member], media_root: Path
) -> None:
    response = members["member"].upload(world.channel.slug, 1, b"x")
    members["member"].epochs[2] = members["member"].epochs[1]
    assert members["member"].upload(world.channel.slug, 2, b"x").status_code == 409
    ban_create(actor=world.owner, channel=world.channel, user=world.observer)
    stale = members["member"].upload(world.channel.slug, 1, b"x")
    assert stale.status_code == 409
    assert response.status_code == 201
    assert len(stored_files(media_root)) == 1


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(
    settings,
    world: World,
    members: dict[str, Member],
    media_root: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings.MAX_UPLOAD_MB = 1
    response = members["member"].upload(world.channel.slug, 1, os.urandom(1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert stored_files(media_root) == [] and not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("file", "meta", "field"),
    [
        (b"plain text, not age", None, "file"),
        (b"age-encryption.org/v1\n-> X25519 abc\n", None, "file"),
        (b"", None, "file"),
        (None, b'{"name": "clear.txt"}', "meta"),
    ],
)
def test_garbage_uploads_are_400_and_leave_nothing(  # type: ignore[no-untyped-def]
    world: World, members: dict[str, Member], media_root: Path, file, meta, field
) -> None:
    recipient = members["member"].epochs[1].recipient
    response = api_client(world.member).post(
        f"/api/v1/channels/{world.channel.slug}/attachments",
        {
            "epoch": 1,
            "meta": io.BytesIO(meta if meta is not None else encrypt_bytes(b"{}", [recipient])),
            "file": io.BytesIO(file if file is not None else encrypt_bytes(b"x", [recipient])),
        },
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert stored_files(media_root) == []


def test_a_missing_part_is_a_400(world: World, members: dict[str, Member]) -> None:
    response = api_client(world.member).post(
        f"/api/v1/channels/{world.channel.slug}/attachments", {"epoch": 1}
    )
    assert response.status_code == 400


def test_a_message_carries_its_own_uploads_in_its_own_channel_only(
    world: World, members: dict[str, Member]
) -> None:
    mine = members["member"].upload(world.channel.slug, 1, b"mine").json()["id"]
    theirs = members["owner"].upload(world.channel.slug, 1, b"theirs").json()["id"]
    client = api_client(world.member)
    url = f"/api/v1/channels/{world.channel.slug}/messages"

    def send(ids: list[int]):  # type: ignore[no-untyped-def]
        payload = {"client_id": str(uuid.uuid4()), "body": "", "attachments": ids}
        return client.post(url, payload, content_type="application/json")

    assert send([theirs]).status_code == 400
    assert send([mine, mine]).status_code == 400
    sent = send([mine])
    assert sent.status_code == 201, sent.content
    assert sent.json()["attachments"] == [
        {"id": mine, "size": sent.json()["attachments"][0]["size"], "epoch": 1}
    ]
    assert send([mine]).status_code == 400  # already carried by a message
    listed = client.get(url).json()
    assert listed[-1]["attachments"][0]["id"] == mine
    other = factories.make_channel("elsewhere")
    factories.admit(other, world.participant_institution)
    elsewhere = client.post(
        "/api/v1/channels/elsewhere/messages",
        {"client_id": str(uuid.uuid4()), "body": "x", "attachments": [theirs]},
        content_type="application/json",
    )
    assert elsewhere.status_code == 400


def test_the_database_and_the_file_store_hold_neither_content_nor_name(
    world: World, members: dict[str, Member], media_root: Path
) -> None:
    canary = secrets.token_hex(16)
    content = f"confidential report {canary}".encode() * 50
    response = members["member"].upload(world.channel.slug, 1, content, name=f"{canary}.pdf")
    assert response.status_code == 201
    api_client(world.member).post(
        f"/api/v1/channels/{world.channel.slug}/messages",
        {
            "client_id": str(uuid.uuid4()),
            "body": "see attached",
            "attachments": [response.json()["id"]],
        },
        content_type="application/json",
    )
    for path in stored_files(media_root):
        assert canary.encode() not in path.read_bytes()
        assert canary not in str(path)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608  (names from introspection)
            for row in cursor.fetchall():
                for value in row:
                    raw = (
                        bytes(value)
                        if isinstance(value, (bytes, memoryview))
                        else str(value).encode()
                    )
                    assert canary.encode() not in raw, (table, row)


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_dump_holds_neither_content_nor_name(
    world: World, members: dict[str, Member]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump needs the PostgreSQL run of the suite (make test runs both)")
    canary = secrets.token_hex(16)
    uploaded = (
        members["member"]
        .upload(world.channel.slug, 1, canary.encode() * 10, name=f"{canary}.txt")
        .json()
    )
    settings_dict = connection.settings_dict
    dump = subprocess.run(
        ["pg_dump", "-h", settings_dict.get("HOST") or "127.0.0.1", "-U",
         settings_dict.get("USER") or "postgres", "--data-only", settings_dict["NAME"]],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert uploaded["sha256"].encode() in dump.stdout  # the dump does hold the attachment
    assert canary.encode() not in dump.stdout


@pytest.mark.parametrize("attack", ["fields", "files"])
def test_an_upload_with_thousands_of_form_parts_is_a_400_not_a_500_and_stores_nothing(
    world: World, members: dict[str, Member], media_root: Path, attack: str
) -> None:
    """Issue 11: 5,000 extra text fields (TooManyFieldsSent) or 150 file parts
    (TooManyFilesSent) answered 500 `server_error`."""
    data: dict[str, object] = {"epoch": 1}
    if attack == "fields":
        data.update({f"extra{n}": "x" for n in range(5000)})
    else:
        data.update({f"file{n}": io.BytesIO(b"age") for n in range(150)})
    response = members["member"].client.post(
        f"/api/v1/channels/{world.channel.slug}/attachments", data
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert stored_files(media_root) == [] and not Attachment.objects.exists()


def test_a_form_whose_text_fields_exceed_the_memory_bound_is_413_naming_the_form(
    world: World, members: dict[str, Member], media_root: Path, settings: Any
) -> None:
    """RequestDataTooBig on a multipart body is about its text fields, not JSON: the
    message says what was too large."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024
    response = members["member"].client.post(
        f"/api/v1/channels/{world.channel.slug}/attachments",
        {"epoch": 1, "note": "x" * 20_000, "meta": io.BytesIO(b"age"), "file": io.BytesIO(b"age")},
    )
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_large",
        "message": "A form's text fields are at most 16 KiB together.",
    }
    assert stored_files(media_root) == [] and not Attachment.objects.exists()
