"""Run a command on a pseudo-terminal and type a passphrase at each prompt.

Why: ``age -p`` and ``age -d`` of a passphrase-encrypted file read the passphrase from the
terminal only (/dev/tty), never from stdin or the environment, so testing scrypt interop
with the real command needs a terminal of its own.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from collections.abc import Sequence


def run_with_passphrase(
    argv: Sequence[str], passphrase: str, *, timeout: float = 60.0
) -> tuple[int, bytes]:
    """Run ``argv`` on a new terminal, answer every passphrase prompt with ``passphrase``;
    return the exit code and everything the command wrote to the terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.execvp(argv[0], list(argv))  # noqa: S606 - a test command line, no shell
        finally:
            os._exit(127)
    screen = b""
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            screen += data
            if screen.lower().count(b"passphrase") > answered:
                answered += 1
                os.write(fd, passphrase.encode() + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), screen
