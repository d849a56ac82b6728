"""Bad input of every kind gives `error: <code>: <message>` on stderr and exit 1, usage
errors exit 2, and never a traceback (kit.Device.run checks that for every run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.kit import device, logged_in
from tests.conftest import World
from tests.live.servers import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_usage_errors_exit_2_before_anything_is_read(tmp_path: Path) -> None:
    machine = device(tmp_path, "nobody")
    for argv in [
        (),
        ("bogus",),
        ("login", "http://127.0.0.1:1"),  # neither --token-file nor --token-stdin
        ("login", "http://127.0.0.1:1", "--token-file", "f", "--token-stdin"),
        ("login", "http://127.0.0.1:1", "--token", "secret"),  # never from an argument
        ("send", "ops"),
        ("send", "ops", "x", "--client-id", "not-a-uuid"),
        ("tail", "ops", "--after", "-3"),
        ("download", "abc"),
        ("doc", "add", "ops", "file"),  # no --title
        ("key", "restore"),
        ("doc",),
    ]:
        run = machine.run(*argv)
        assert run.returncode == 2, argv
        assert run.stdout == ""
    run = machine.run("login", "ftp://example.org", "--token-stdin", stdin="t\n")
    assert (run.returncode, run.stderr.splitlines()[-1].split(":")[0]) == (2, "error")


def test_before_login_every_command_says_so(tmp_path: Path) -> None:
    machine = device(tmp_path, "nobody")
    for argv in [("whoami",), ("channels",), ("send", "ops", "x"), ("tail", "ops", "--once")]:
        run = machine.run(*argv)
        assert run.returncode == 1
        assert run.stderr.startswith("error: config: not logged in"), run.stderr


def test_an_unreachable_server_is_a_network_error(tmp_path: Path) -> None:
    machine = device(tmp_path, "nobody")
    run = machine.run("login", "http://127.0.0.1:9", "--token-stdin", stdin="abc\n")
    assert run.returncode == 1
    assert run.stderr.startswith("error: network: ")
    assert not machine.config.exists()


def test_bad_input_against_a_real_server(world: World, server: LiveServer, tmp_path: Path) -> None:
    # A wrong token: refused by the server, nothing saved.
    stranger = device(tmp_path, "stranger")
    run = stranger.run("login", server.http, "--token-stdin", stdin="not-a-token\n")
    assert (run.returncode, run.stderr.split(":")[:2]) == (1, ["error", " unauthenticated"])
    assert not stranger.config.exists()
    # A missing token file.
    run = stranger.run("login", server.http, "--token-file", str(tmp_path / "missing"))
    assert run.returncode == 1 and run.stderr.startswith("error: file: ")

    olivia = logged_in(tmp_path, "olivia", world.owner, server)
    ursula = logged_in(tmp_path, "ursula", world.outsider, server)
    oscar = logged_in(tmp_path, "oscar", world.observer, server)

    def refused(machine: object, *argv: str, code: str) -> None:
        run = machine.run(*argv)  # type: ignore[attr-defined]
        assert run.returncode == 1, (argv, run.stderr)
        assert run.stderr.startswith(f"error: {code}: "), (argv, run.stderr)
        assert run.stdout == ""

    refused(olivia, "send", "no-such-channel", "x", code="not_found")
    refused(olivia, "tail", "no-such-channel", "--once", code="not_found")
    refused(ursula, "send", "ops", "x", code="forbidden")
    refused(ursula, "tail", "ops", code="forbidden")
    refused(oscar, "send", "ops", "observers read only", code="forbidden")
    refused(olivia, "send", "ops", "x", "--handling-code", "TLP:PURPLE", code="bad_request")
    refused(olivia, "doc", "list", "no-such-channel", code="not_found")
    # Keys needed, none made yet.
    refused(olivia, "upload", "ops", str(tmp_path / "missing.pdf"), code="file")
    report = tmp_path / "r.txt"
    report.write_text("r")
    refused(olivia, "upload", "ops", str(report), code="key")
    refused(olivia, "download", "1", code="key")
    refused(olivia, "share-pending", code="key")
    refused(olivia, "key", "backup", code="key")
    refused(olivia, "key", "restore", "--recovery-code-file", str(tmp_path / "no"), code="file")
    olivia.run("keygen", check=True)
    refused(olivia, "download", "999999", code="not_found")
    refused(olivia, "doc", "get", "999999", code="not_found")
    refused(olivia, "upload", "no-such-channel", str(report), code="not_found")
    refused(olivia, "send", "ops", "x", "--attach", str(tmp_path / "missing"), code="file")
    refused(olivia, "doc", "add", "ops", str(report), "--title", "t", "--language", "xx-long",
            code="bad_request")  # fmt: skip
    code_file = tmp_path / "code"
    code_file.write_text("not a code")
    refused(olivia, "key", "restore", "--recovery-code-file", str(code_file), code="key")

    # Files others can read are refused, as ssh does; fixed, they work again.
    olivia.config.chmod(0o644)
    refused(olivia, "whoami", code="config")
    assert "chmod 600" in olivia.run("whoami").stderr
    olivia.config.chmod(0o600)
    olivia.identity.chmod(0o640)
    refused(olivia, "upload", "ops", str(report), code="config")
    olivia.identity.chmod(0o600)
    olivia.config.parent.chmod(0o777)
    refused(olivia, "whoami", code="config")
    olivia.config.parent.chmod(0o700)
    assert json.loads(olivia.run("whoami", "--json", check=True).stdout)["username"] == "olivia"
    # A config that is not one.
    olivia.config.write_text("{")
    refused(olivia, "whoami", code="config")
