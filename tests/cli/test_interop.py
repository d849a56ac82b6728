"""The CLI and the browser read each other's files and keys: an attachment encrypted the
browser's way (tests/e2ee_clients.Member, on the project's age) is downloaded by the CLI,
a backup in the browser's format restores in the CLI, and `share-pending --watch` delivers
a newcomer's share as soon as their key appears (SPEC §5, "nobody clicks anything")."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from channels_app.models import Epoch
from exchange_client.keys import new_recovery_code
from permissions.models import User
from tests import factories
from tests.cli.kit import logged_in
from tests.conftest import World, api_client
from tests.e2ee_clients import Member, b64, backup_of
from tests.live.servers import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


def eventually(check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.3)


def test_browser_files_and_backups_open_in_the_cli_and_shares_flow_by_themselves(
    world: World, server: LiveServer, tmp_path: Path, media_root: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = str(media_root)  # the browser's upload runs here: one file store
    olivia = logged_in(tmp_path, "olivia", world.owner, server)
    olivia.run("keygen", check=True)
    first = tmp_path / "first.txt"
    first.write_text("epoch one starts with the CLI's first upload")
    olivia.run("upload", "ops", str(first), check=True)  # starts epoch 1

    watcher = olivia.popen("share-pending", "--watch", "--json")
    try:
        # A member in the browser registers a key: the watching CLI delivers their share.
        browser = Member("mateo", api_client(world.member))
        browser.register()

        def share_arrived() -> bool:
            response = browser.client.get("/api/v1/channels/ops/epochs/1/share")
            return response.status_code == 200

        eventually(share_arrived)
        browser.fetch_share("ops", 1)

        # The browser's upload, the CLI's download: same bytes, the original name.
        content = b"\x00\x01 binary after-action report \xff" * 40000
        uploaded = browser.upload("ops", 1, content, name="informe final.pdf")
        assert uploaded.status_code == 201, uploaded.content
        saved = olivia.run("download", str(uploaded.json()["id"]), check=True).stdout.strip()
        assert Path(saved).name == "informe final.pdf"
        assert Path(saved).read_bytes() == content

        # The browser's backup restores in the CLI, on mateo's new device.
        code = new_recovery_code()
        response = browser.client.put(
            "/api/v1/keys/me/backup",
            {"backup": b64(backup_of(browser.identity, code))},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        laptop = logged_in(tmp_path, "mateo-laptop", world.member, server)
        code_file = laptop.home / "code"
        code_file.write_text(code)
        restored = laptop.run("key", "restore", "--recovery-code-file", str(code_file), check=True)
        assert restored.stdout.strip() == browser.identity.recipient.to_string()
        assert laptop.run("download", str(uploaded.json()["id"]), check=True)

        # And a newcomer through the CLI is served by the watcher too.
        oscar = logged_in(tmp_path, "oscar", world.observer, server)
        oscar.run("keygen", check=True)
        eventually(lambda: oscar.run("download", str(uploaded.json()["id"])).returncode == 0)

        # Someone left: the epoch is stale. The next upload starts epoch 2 with a back-link;
        # a newcomer who only ever gets epoch 2 still reads epoch 1 through it.
        Epoch.objects.filter(channel=world.channel, number=1).update(stale=True)
        second = tmp_path / "second.txt"
        second.write_text("after the rotation")
        later = olivia.run("upload", "ops", str(second), "--json", check=True)
        assert json.loads(later.stdout)["epoch"] == 2
        factories.make_user("nora", institution=world.participant_institution)
        nora = logged_in(tmp_path, "nora", User.objects.get(username="nora"), server)
        nora.run("keygen", check=True)
        first_id = str(uploaded.json()["id"])
        eventually(lambda: nora.run("download", first_id, "-o", "old.pdf").returncode == 0)
        assert (nora.home / "old.pdf").read_bytes() == content

        # Stale again, and nobody uploads: share-pending starts the next epoch by itself.
        Epoch.objects.filter(channel=world.channel, number=2).update(stale=True)
        olivia.run("share-pending", "ops", check=True)
        assert Epoch.objects.filter(channel=world.channel, number=3, stale=False).exists()
        third = json.loads(nora.run("upload", "ops", str(second), "--json", check=True).stdout)
        assert third["epoch"] == 3
        oscar.run("download", str(third["id"]), "-o", "third.txt", check=True)
    except AssertionError as failure:
        watcher.terminate()
        stdout, stderr = watcher.communicate(timeout=10)
        raise AssertionError(f"{failure}; the watcher said: {stdout!r} {stderr!r}") from None
    finally:
        if watcher.poll() is None:
            watcher.terminate()
    stdout, stderr = watcher.communicate(timeout=10)
    assert "Traceback" not in stderr
    reports = [json.loads(line) for line in stdout.splitlines()]
    assert sum(r["delivered"] for r in reports if r["channel"] == "ops") >= 2
