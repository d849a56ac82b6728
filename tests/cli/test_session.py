"""An institution's session through `exchange-cli`, command by command, on a real server:
log in, make a key, send, tail, upload (decrypted by a member with the `age` command),
download, documents, backup and restore, and share-pending for a newcomer."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from channels_app.e2ee import ScryptIdentity, decrypt_bytes
from tests.cli.kit import Device, logged_in
from tests.conftest import World
from tests.live.servers import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


def age_command() -> str:
    path = shutil.which("age")
    if path is None:
        pytest.skip("the age command is not installed (scripts/tools-up)")
    return path


def share_of(server: LiveServer, machine: Device, channel: str, epoch: int) -> bytes:
    """The member's share of an epoch, as the server keeps it (an age file)."""
    token = json.loads(machine.config.read_text())["token"]
    response = httpx.get(
        f"{server.http}/api/v1/channels/{channel}/epochs/{epoch}/share",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return base64.b64decode(response.json()["ciphertext"])


def test_an_institution_exchanges_through_the_cli(
    world: World, server: LiveServer, tmp_path: Path
) -> None:
    olivia = logged_in(tmp_path, "olivia", world.owner, server)
    mateo = logged_in(tmp_path, "mateo", world.member, server)
    assert oct(olivia.config.stat().st_mode & 0o777) == "0o600"
    assert oct(olivia.config.parent.stat().st_mode & 0o777) == "0o700"

    assert olivia.run("whoami", check=True).stdout.startswith("olivia\t")
    me = json.loads(olivia.run("whoami", "--json", check=True).stdout)
    assert me["username"] == "olivia"
    channels = [json.loads(line) for line in olivia.run("--json", "channels", check=True).lines]
    assert {c["slug"]: c["is_member"] for c in channels if c["slug"] == "ops"} == {"ops": True}

    # Keys: each makes one; the recovery code (alone on stdout) opens the backup.
    code = olivia.run("keygen", check=True).stdout.strip()
    assert code == code.upper() and [len(g) for g in code.split("-")] == [4] * 8  # browser's
    assert oct(olivia.identity.stat().st_mode & 0o777) == "0o600"
    mateo_code = mateo.run("keygen", check=True).stdout.strip()
    assert olivia.run("keygen").returncode == 1  # a key is there already

    # Send: the id alone; the same client id twice is one message.
    first = olivia.run("send", "ops", "hello from the CLI", check=True).stdout.strip()
    client_id = str(uuid.uuid4())
    again = [
        olivia.run("send", "ops", "once", "--client-id", client_id, check=True).stdout.strip()
        for _ in range(2)
    ]
    assert again[0] == again[1]
    piped = mateo.run("send", "ops", "-", "--handling-code", "TLP:GREEN", stdin="from\nstdin")
    assert piped.returncode == 0, piped.stderr

    # Tail --once prints the backlog, then nothing the second time (the position is kept).
    lines = [json.loads(line) for line in mateo.run("tail", "ops", "--once", "--json").lines]
    assert [m["body"] for m in lines] == ["hello from the CLI", "once", "from\nstdin"]
    assert [m["seq"] for m in lines] == [1, 2, 3]
    assert str(lines[0]["id"]) == first
    assert mateo.run("tail", "ops", "--once", check=True).stdout == ""
    human = olivia.run("tail", "ops", "--once", "--after", first, check=True).lines
    assert human[0].endswith("olivia@guardia-civil: once")

    # Upload: the id alone on stdout; mateo decrypts it with the age command, from his share.
    report = tmp_path / "after-action report.pdf"
    report.write_bytes(b"%PDF lessons learned " * 5000)
    attachment = olivia.run("upload", "ops", str(report), check=True).stdout.strip()
    assert attachment.isdigit()
    age = age_command()
    sealed_share = tmp_path / "share.age"
    sealed_share.write_bytes(share_of(server, mateo, "ops", 1))
    epoch_identity = tmp_path / "epoch.txt"
    subprocess.run(
        [age, "-d", "-i", str(mateo.identity), "-o", str(epoch_identity), str(sealed_share)],
        check=True,
    )
    assert epoch_identity.read_text().startswith("# channel ops epoch 1\nAGE-SECRET-KEY-1")
    stored = next((server_media(tmp_path)).rglob("*.age")).read_bytes()
    plain = subprocess.run(
        [age, "-d", "-i", str(epoch_identity)], input=stored, capture_output=True, check=True
    ).stdout
    assert plain == report.read_bytes()

    # Download: under the original name, never over an existing file without -o.
    saved = mateo.run("download", attachment, check=True).stdout.strip()
    assert Path(saved) == mateo.home / "after-action report.pdf"
    assert Path(saved).read_bytes() == report.read_bytes()
    assert mateo.run("download", attachment).returncode == 1
    other = mateo.run("download", attachment, "-o", str(mateo.home / "copy.pdf"), check=True)
    assert Path(other.stdout.strip()).read_bytes() == report.read_bytes()

    # Send with an attachment.
    note = tmp_path / "note.txt"
    note.write_text("see attached")
    sent = json.loads(
        olivia.run("send", "ops", "with file", "--attach", str(note), "--json").stdout
    )
    assert len(sent["attachments"]) == 1

    # Documents: add, find in the channel, get.
    doc_id = olivia.run(
        "doc", "add", "ops", str(report), "--title", "Ransomware response",
        "--summary", "What we learnt", "--tag", "ransomware", "--language", "en",
    ).stdout.strip()  # fmt: skip
    assert doc_id.isdigit()
    found = [
        json.loads(line)
        for line in mateo.run("doc", "list", "ops", "--q", "ransomware", "--json").lines
    ]
    assert [d["id"] for d in found] == [int(doc_id)]
    assert mateo.run("doc", "list", "ops", check=True).lines[0].split("\t")[0] == doc_id
    got = mateo.run("doc", "get", doc_id, "-o", str(mateo.home / "doc.pdf"), check=True)
    assert Path(got.stdout.strip()).read_bytes() == report.read_bytes()
    across = mateo.run("doc", "list")  # GET /documents: may not exist on this branch yet
    assert across.returncode == 0 or across.stderr.startswith("error: ")

    # Backup again, then restore on a new device with the new code (the old one is void).
    new_code = mateo.run("key", "backup", check=True).stdout.strip()
    backup = base64.b64decode(_get(server, mateo, "/keys/me/backup")["backup"])
    secret = decrypt_bytes(backup, [ScryptIdentity(new_code)]).decode()
    assert secret in mateo.identity.read_text()
    assert new_code != mateo_code
    laptop = logged_in(tmp_path, "mateo-laptop", world.member, server)
    code_file = laptop.home / "code"
    code_file.write_text(mateo_code.lower())  # the old code no longer opens the backup
    assert laptop.run("key", "restore", "--recovery-code-file", str(code_file)).returncode == 1
    code_file.write_text(new_code.replace("-", " ").lower() + "\n")
    restored = laptop.run("key", "restore", "--recovery-code-file", str(code_file), check=True)
    assert restored.stdout.strip() == _get(server, mateo, "/keys/me")["public_key"]
    assert laptop.run("download", attachment, "-o", str(laptop.home / "r.pdf"), check=True)

    # A newcomer (the observer) makes a key and waits; olivia's client delivers.
    oscar = logged_in(tmp_path, "oscar", world.observer, server)
    oscar.run("keygen", check=True)
    assert oscar.run("download", attachment).returncode == 1  # no share yet
    delivered = olivia.run("share-pending", "ops", "--json", check=True)
    assert {"channel": "ops", "delivered": 1} in [json.loads(x) for x in delivered.lines]
    assert oscar.run("download", attachment, check=True)
    again_delivered = olivia.run("share-pending", "--json", check=True)  # every channel: none
    assert all(json.loads(x)["delivered"] == 0 for x in again_delivered.lines)


def server_media(tmp_path: Path) -> Path:
    return tmp_path / "media"


def _get(server: LiveServer, machine: Device, path: str) -> dict[str, str]:
    token = json.loads(machine.config.read_text())["token"]
    response = httpx.get(
        f"{server.http}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    result: dict[str, str] = response.json()
    return result
