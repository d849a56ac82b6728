"""Driving `exchange-cli` as an institution would: the console script of this venv, run
as a subprocess, each user with a config directory of their own, against a real daphne."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests import factories
from tests.live.servers import LiveServer

CLI = str(Path(sys.executable).with_name("exchange-cli"))
TIMEOUT = 120
# The servers' rate limits, lifted: a test sends more writes in a second than a person.
SERVER_ENV = {
    "EXCHANGE_RATE_API_WRITES": "100000/second",
    "EXCHANGE_RATE_UPLOADS": "100000/second",
    "EXCHANGE_RATE_WS_FRAMES": "100000/second",
}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@dataclass
class Device:
    """One user's machine: a config directory and a working directory."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "config" / "config.json"

    @property
    def identity(self) -> Path:
        return self.home / "config" / "identity.txt"

    def env(self) -> dict[str, str]:
        return {**os.environ, "EXCHANGE_CLI_CONFIG": str(self.config), "HOME": str(self.home)}

    def run(self, *argv: str, stdin: str | None = None, check: bool = False) -> Run:
        done = subprocess.run(
            [CLI, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=self.home,
            timeout=TIMEOUT,
        )
        run = Run(done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in run.stderr, run.stderr
        if check:
            assert run.returncode == 0, (argv, run.stderr)
        return run

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [CLI, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
            cwd=self.home,
        )


def device(tmp_path: Path, name: str) -> Device:
    home = tmp_path / name
    home.mkdir(mode=0o700)
    return Device(home)


def logged_in(tmp_path: Path, name: str, user: object, server: LiveServer) -> Device:
    """A device of `user`, logged in to `server` with a token file, as SPEC §6.1 says."""
    machine = device(tmp_path, name)
    token = machine.home / "token"
    token.write_text(factories.token_for(user) + "\n")  # type: ignore[arg-type]
    machine.run("login", server.http, "--token-file", str(token), check=True)
    return machine
