"""exchange-cli and the browser read each other's files (issue 13): a file sent from the
command line downloads in Debian's Chromium with the same bytes and name, and a file a
browser attached downloads with the CLI. The keys travel as SPEC §5 says: the CLI's new
key gets its epoch share from the browser of a member who has the channel open."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import APIRequestContext, Browser

from tests.browser.test_e2ee import Scene, arrive, attach, download, open_with_key
from tests.browser.test_e2ee import scene as scene  # the fixture, under its own name
from tests.cli.kit import device

pytestmark = pytest.mark.browser

FROM_CLI = "Acta de incautación — Lisboa.bin"
FROM_BROWSER = "respuesta São Paulo.bin"


def eventually(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_file_sent_with_the_cli_downloads_in_the_browser_and_the_reverse(
    scene: Scene, browser: Browser, api: Callable[[str], APIRequestContext], tmp_path: Path
) -> None:
    olivia, _ = arrive(browser, scene, "olivia")
    open_with_key(olivia)  # her browser starts epoch 1
    laptop = device(tmp_path, "mateo-laptop")
    (laptop.home / "token").write_text(scene.tokens["mateo"] + "\n")
    laptop.run("login", scene.server.http, "--token-file", "token", check=True)
    laptop.run("keygen", check=True)
    # Olivia's open page delivers the share the CLI's new key waits for.
    eventually(
        lambda: api("mateo").get("/api/v1/channels/ops/epochs/1/share").status == 200,
        "the browser did not deliver the CLI's share",
    )

    content = os.urandom(300_000)
    (laptop.home / FROM_CLI).write_bytes(content)
    laptop.run("send", "ops", "from the command line", "--attach", FROM_CLI, check=True)
    saved, data = download(olivia, FROM_CLI)
    assert saved.suggested_filename == FROM_CLI
    assert data == content

    answer = os.urandom(200_000)
    attach(olivia, answer, name=FROM_BROWSER, body="from the browser")

    def attachment_of_the_answer() -> int | None:
        messages = api("mateo").get("/api/v1/channels/ops/messages").json()
        last = messages[-1]
        return last["attachments"][0]["id"] if last["body"] == "from the browser" else None

    eventually(lambda: attachment_of_the_answer() is not None, "the browser's file never came")
    received = laptop.home / "received"
    received.mkdir()
    laptop.run("download", str(attachment_of_the_answer()), "-o", str(received), check=True)
    assert (received / FROM_BROWSER).read_bytes() == answer
    assert scene.page_errors == []
