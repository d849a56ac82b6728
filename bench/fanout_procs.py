"""Server processes and test data for ``ws_fanout``.

Why a module of its own: starting daphne, waiting for it, and killing it again - also when
the benchmark fails or is interrupted - is the part that must never go wrong (a leftover
daphne keeps a port and a core busy). Every process started here gets its own session
(process group), is registered in one ``ProcessSet`` and is killed by group id on exit.

The full path also needs its own data: a fresh database (temp SQLite file, or the PostgreSQL
database ``exchange_bench``), migrated, with two institutions admitted to ``cybercrime`` and
a few users with bearer tokens - made with the app's own management commands.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TOKEN_RE = re.compile(r"[A-Za-z0-9_\-.:~+/=]{20,}")


def log(message: str) -> None:
    """Progress goes to stderr so that ``--json`` output on stdout stays clean."""
    print(f"[ws_fanout {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def require_loopback(url: str) -> None:
    """The benchmark must only ever talk to this machine."""
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"refusing non-loopback address {url!r}")


def free_port() -> int:
    """A port the kernel just handed out on loopback (tiny race, fine for a benchmark)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One server process with its log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as out:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, timeout: float) -> None:
        """Poll the port until it accepts; fail early if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not listening after {timeout}s:\n{self.log_tail()}")

    def send_signal(self, sig: signal.Signals) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL it if it has not gone within 5 s."""
        if self.popen is None or self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


@dataclass
class ProcessSet:
    """All processes of one run; ``stop_all`` is safe to call twice."""

    workdir: Path
    servers: list[ServerProcess] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], port: int) -> ServerProcess:
        proc = ServerProcess(name, argv, env, port, self.workdir / f"{name}.log")
        self.servers.append(proc)
        proc.start()
        return proc

    def stop_all(self) -> None:
        """SIGTERM every group first, then wait: shutdowns overlap instead of queueing."""
        for proc in self.servers:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.servers:
            if proc.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in self.servers:
            proc.stop()  # SIGKILL whatever is left


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so ``finally`` blocks kill the servers."""

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def daphne_argv(port: int, app: str, module: str = "daphne") -> list[str]:
    """daphne's command line; ``module`` may be a daphne wrapper such as exchange.server."""
    return [PYTHON, "-m", module, "-b", "127.0.0.1", "-p", str(port), app]


def plain_argv(port: int, redis_url: str | None, prefix: str) -> list[str]:
    argv = [PYTHON, "-m", "bench.plain_ws_server", "--port", str(port), "--prefix", prefix]
    if redis_url:
        argv += ["--redis-url", redis_url]
    return argv


# -- full-path data ------------------------------------------------------------------------


def recreate_pg_database(admin_url: str, name: str) -> None:
    """Drop and create the bench database, so every run starts from an empty schema."""
    import psycopg
    from psycopg import sql

    require_loopback(admin_url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run ``manage.py`` with the bench environment; raise with its output on failure."""
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args[:2])} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def parse_token(output: str) -> str:
    """``issue_token`` prints the token once; take the last long token-like word."""
    words = TOKEN_RE.findall(output)
    if not words:
        raise RuntimeError(f"no token in issue_token output: {output!r}")
    return str(words[-1])


@dataclass(frozen=True)
class FullData:
    """Tokens for the sockets of the full path."""

    sub_tokens: tuple[str, ...]
    send_tokens: tuple[str, ...]
    seconds: float


INSTITUTIONS = (
    ("bench-police-nl", "Bench Police NL", "NL"),
    ("bench-police-de", "Bench BKA", "DE"),
)

_SHELL_SCRIPT = """
import contextlib, io, json
from django.core.management import call_command
steps = json.loads({steps!r})
outputs = []
for args in steps:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        call_command(*args, stdout=buf)
    outputs.append(buf.getvalue())
print("BENCH_OUTPUTS=" + json.dumps(outputs))
"""


def setup_steps(
    channel: str, sub_users: int, send_users: int
) -> tuple[list[list[str]], list[str], list[str]]:
    """The management-command calls that make the data; returns (steps, subs, senders)."""
    steps: list[list[str]] = []
    for slug, name, country in INSTITUTIONS:
        steps.append(
            ["create_institution", slug, "--name", name, "--country", country, "--kind", "police"]
        )
        steps.append(["admit", channel, slug, "--role", "participant"])
    subs = [f"bench-sub-{i}" for i in range(sub_users)]
    senders = [f"bench-send-{i}" for i in range(send_users)]
    for i, user in enumerate(subs + senders):
        steps.append(["create_user", user, "--institution", INSTITUTIONS[i % 2][0]])
    for user in subs + senders:
        steps.append(["issue_token", user])
    return steps, subs, senders


def prepare_full_data(
    env: dict[str, str], channel: str, sub_users: int, send_users: int, via: str
) -> FullData:
    """Migrate and create institutions, admissions, users and tokens.

    ``via="shell"`` runs every command with ``call_command`` inside one ``manage.py shell``
    (one Django start-up instead of one per command: seconds instead of a minute for a few
    dozen users); ``via="commands"`` runs each as its own ``manage.py`` process.
    """
    started = time.monotonic()
    manage(env, "migrate", "--noinput")
    steps, subs, senders = setup_steps(channel, sub_users, send_users)
    if via == "shell":
        out = manage(env, "shell", "-c", _SHELL_SCRIPT.format(steps=json.dumps(steps)))
        line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_OUTPUTS=")), None)
        if line is None:
            raise RuntimeError(f"setup script printed no outputs:\n{out[-2000:]}")
        outputs: list[str] = json.loads(line.removeprefix("BENCH_OUTPUTS="))
    else:
        outputs = [manage(env, *step, timeout=120) for step in steps]
    tokens = [parse_token(out) for out in outputs[-(len(subs) + len(senders)) :]]
    return FullData(
        tuple(tokens[: len(subs)]), tuple(tokens[len(subs) :]), time.monotonic() - started
    )
