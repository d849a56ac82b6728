"""Where the client keeps what it knows: the config file, the identity file, tail positions.

One directory (mode 0700) holds `config.json` (server URL and API token, mode 0600), the
identity key `identity.txt` (an age identity file, mode 0600) and `tail/<channel>.json`
(the last message `tail` printed). `EXCHANGE_CLI_CONFIG` is the config file's own path; the
rest lives beside it. Why the permission checks: the token and the identity are secrets,
and like ssh the client refuses to use a file that others could read (or a directory
others could write, where someone could swap the file) instead of silently going on.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from exchange_client.errors import ExchangeError

ENV_VAR = "EXCHANGE_CLI_CONFIG"
CONFIG_NAME = "config.json"
IDENTITY_NAME = "identity.txt"


def config_path() -> Path:
    """The config file: `$EXCHANGE_CLI_CONFIG`, else platformdirs' user config directory."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_config_dir("exchange-cli")) / CONFIG_NAME


def check_private(path: Path, *, directory: bool = False) -> None:
    """Refuse a file readable or writable by group or others, or a directory writable by
    them. Raises ExchangeError("config", …) naming the path and the fix."""
    mode = stat.S_IMODE(path.stat().st_mode)
    wide = mode & (0o022 if directory else 0o077)
    if wide:
        fix = "chmod 700" if directory else "chmod 600"
        raise ExchangeError(
            "config",
            f"permissions {mode:04o} for {path} are too open; it must not be accessible by"
            f" others ({fix} {path})",
        )


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, mode 0600, its directory 0700."""
    ensure_directory(path.parent)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def ensure_directory(directory: Path) -> None:
    if directory.exists():
        check_private(directory, directory=True)
        return
    directory.mkdir(mode=0o700, parents=True)
    os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask


def read_private(path: Path) -> bytes:
    """The bytes of a private file, after checking it and its directory."""
    check_private(path.parent, directory=True)
    check_private(path)
    return path.read_bytes()


@dataclass(frozen=True)
class Config:
    """What `login` saved: the server and the token that signs in to it."""

    url: str
    token: str


class Store:
    """The client's directory, named by the config file's path."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()
        self.directory = self.path.parent

    @property
    def identity_path(self) -> Path:
        return self.directory / IDENTITY_NAME

    def load(self) -> Config:
        if not self.path.exists():
            raise ExchangeError("config", f"not logged in: no {self.path} (run exchange-cli login)")
        try:
            data = json.loads(read_private(self.path))
            return Config(url=str(data["url"]), token=str(data["token"]))
        except (ValueError, KeyError, TypeError):
            raise ExchangeError("config", f"{self.path} is not a valid config file") from None

    def save(self, config: Config) -> None:
        body = json.dumps({"url": config.url, "token": config.token}, indent=2) + "\n"
        write_private(self.path, body.encode())

    def read_identity(self) -> str | None:
        """The identity file's text, or None when there is none yet."""
        if not self.identity_path.exists():
            return None
        return read_private(self.identity_path).decode("utf-8", errors="replace")

    def write_identity(self, text: str) -> None:
        write_private(self.identity_path, text.encode())

    def tail_position(self, channel: str) -> dict[str, Any] | None:
        path = self._tail_path(channel)
        if not path.exists():
            return None
        try:
            data = json.loads(read_private(path))
            return {"id": int(data["id"]), "seq": int(data["seq"])}
        except (ValueError, KeyError, TypeError):
            raise ExchangeError("config", f"{path} is not a valid tail position") from None

    def save_tail_position(self, channel: str, message_id: int, seq: int) -> None:
        self._tail_path(channel).parent.mkdir(mode=0o700, exist_ok=True)
        write_private(self._tail_path(channel), json.dumps({"id": message_id, "seq": seq}).encode())

    def _tail_path(self, channel: str) -> Path:
        if not channel or "/" in channel or channel.startswith("."):
            raise ExchangeError("usage", f"not a channel slug: {channel!r}")
        return self.directory / "tail" / f"{channel}.json"
