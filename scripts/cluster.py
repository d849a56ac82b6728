"""The local cluster (SPEC §7): the production topology on one machine.

    python scripts/cluster.py up     # make cluster
    python scripts/cluster.py down   # make cluster-stop

`up` migrates the database, collects the static files, starts WORKERS server processes
(numbered 1 to WORKERS, each `python -m exchange.server` on its own loopback port, with
`--proxy-headers`) and Debian's nginx in front of them on 127.0.0.1:8080 with the
configuration rendered from deploy/nginx/exchange.conf.in, then returns once
`/healthz` answers 200 through nginx, printing the URL. Every process runs detached,
with its pid in `var/cluster/worker-N.pid` / `nginx.pid` and its log beside it; `down`
stops them all. `up` on a running cluster restarts it.

Configuration from the environment (SPEC §7): DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/exchange_cluster, created when missing), REDIS_URL
(default redis://127.0.0.1:6379/3), WORKERS (2), and every EXCHANGE_* variable reaches
the workers. For tests: EXCHANGE_CLUSTER_PORT (8080), EXCHANGE_CLUSTER_WORKER_PORT (the
first worker's port, 8101) and EXCHANGE_CLUSTER_DIR (var/cluster).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/exchange_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"
READY_SECONDS = 60


@dataclass(frozen=True)
class Cluster:
    directory: Path
    port: int
    first_worker_port: int
    workers: int
    database_url: str
    redis_url: str

    @classmethod
    def from_environment(cls) -> Cluster:
        def number(name: str, default: int) -> int:
            raw = os.environ.get(name) or str(default)
            if not raw.isdigit() or int(raw) < 1:
                sys.exit(f"error: {name} is a positive whole number, not {raw!r}")
            return int(raw)

        return cls(
            directory=Path(os.environ.get("EXCHANGE_CLUSTER_DIR") or ROOT / "var" / "cluster"),
            port=number("EXCHANGE_CLUSTER_PORT", 8080),
            first_worker_port=number("EXCHANGE_CLUSTER_WORKER_PORT", 8101),
            workers=number("WORKERS", 2),
            database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def worker_port(self, number: int) -> int:
        return self.first_worker_port + number - 1

    def pid_file(self, name: str) -> Path:
        return self.directory / f"{name}.pid"


def _secret_key(cluster: Cluster) -> str:
    """One secret key for every worker (sessions made by one are valid on another), kept
    in the cluster's directory, readable by its owner only."""
    path = cluster.directory / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _environment(cluster: Cluster) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exchange.settings",
        "DATABASE_URL": cluster.database_url,
        "REDIS_URL": cluster.redis_url,
        "EXCHANGE_DEBUG": os.environ.get("EXCHANGE_DEBUG", "0"),
        "EXCHANGE_SECRET_KEY": os.environ.get("EXCHANGE_SECRET_KEY") or _secret_key(cluster),
        "EXCHANGE_ALLOWED_HOSTS": os.environ.get("EXCHANGE_ALLOWED_HOSTS", "127.0.0.1,localhost"),
        # Plain HTTP on the loopback only (SPEC §7); TLS belongs to deploy/.
        "EXCHANGE_SSL_REDIRECT": "0",
        "EXCHANGE_SECURE_COOKIES": "0",
        # nginx sets X-Forwarded-For to the peer's address (deploy/nginx/exchange.conf.in).
        "EXCHANGE_PROXY_COUNT": os.environ.get("EXCHANGE_PROXY_COUNT", "1"),
        "EXCHANGE_MEDIA_ROOT": os.environ.get(
            "EXCHANGE_MEDIA_ROOT", str(cluster.directory / "media")
        ),
        "EXCHANGE_STATIC_ROOT": str(cluster.directory / "static"),
    }


def _create_database(url: str) -> None:
    """CREATE DATABASE when the cluster's PostgreSQL database does not exist yet."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return
    import psycopg
    from psycopg import sql

    name = parts.path.lstrip("/")
    server = parts._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _manage(cluster: Cluster, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=_environment(cluster),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _nginx() -> str:
    for candidate in ("/usr/sbin/nginx", "/usr/bin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    sys.exit("error: nginx is not installed (scripts/nginx-up installs Debian's package)")


def _write_nginx_config(cluster: Cluster) -> Path:
    directory = cluster.directory / "nginx"
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    workers = ",".join(
        f"127.0.0.1:{cluster.worker_port(number)}" for number in range(1, cluster.workers + 1)
    )
    site = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "nginx" / "render.py"),
         "--workers", workers, "--static-root", str(cluster.directory / "static"),
         "--listen", f"127.0.0.1:{cluster.port}"],
        check=True, capture_output=True, text=True, env=_environment(cluster),
    ).stdout  # fmt: skip
    (directory / "exchange.conf").write_text(site)
    # Run by root, nginx's workers would drop to "nobody", who may not read the checkout.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = directory / "tmp"
    main = (
        f"{user}worker_processes 1;\n"
        f"pid {cluster.pid_file('nginx')};\n"
        f"error_log {cluster.directory / 'nginx-error.log'} warn;\n"
        "events { worker_connections 8192; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {cluster.directory / 'nginx-access.log'};\n"
        f"    client_body_temp_path {temp / 'body'};\n"
        f"    proxy_temp_path {temp / 'proxy'};\n"
        f"    fastcgi_temp_path {temp / 'fastcgi'};\n"
        f"    uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"    scgi_temp_path {temp / 'scgi'};\n"
        f"    include {directory / 'exchange.conf'};\n"
        "}\n"
    )
    config = directory / "nginx.conf"
    config.write_text(main)
    return config


def _start_worker(cluster: Cluster, number: int) -> None:
    log = (cluster.directory / f"worker-{number}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange.server", "-b", "127.0.0.1",
         "-p", str(cluster.worker_port(number)), "--proxy-headers", "-v", "1",
         "exchange.asgi:application"],
        cwd=ROOT, env=_environment(cluster), stdout=log, stderr=log,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    cluster.pid_file(f"worker-{number}").write_text(f"{process.pid}\n")


def _health(url: str) -> tuple[int, dict[str, str] | None]:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return 0, None


def up(cluster: Cluster) -> None:
    down(cluster, quiet=True)
    cluster.directory.mkdir(parents=True, exist_ok=True)
    busy = [
        port
        for port in (cluster.port, *map(cluster.worker_port, range(1, cluster.workers + 1)))
        if not _port_free(port)
    ]
    if busy:
        sys.exit(f"error: port(s) {', '.join(map(str, busy))} already in use on 127.0.0.1")
    _create_database(cluster.database_url)
    _manage(cluster, "migrate", "--noinput")
    _manage(cluster, "collectstatic", "--noinput", "--clear")
    for number in range(1, cluster.workers + 1):
        _start_worker(cluster, number)
    nginx = _nginx()
    config = _write_nginx_config(cluster)
    subprocess.run([nginx, "-p", str(config.parent), "-c", str(config)], check=True)
    deadline = time.monotonic() + READY_SECONDS
    status, parts = _health(cluster.url)
    while status != 200:
        if time.monotonic() > deadline:
            down(cluster, quiet=True)
            sys.exit(f"error: /healthz did not answer 200 within {READY_SECONDS} s: {parts}")
        time.sleep(0.5)
        status, parts = _health(cluster.url)
    print(f"Exchange cluster: {cluster.workers} workers behind nginx at {cluster.url}")
    print(f"  WebSocket ws://127.0.0.1:{cluster.port}/ws/v1/, health {cluster.url}healthz")
    print(f"  logs and pids in {cluster.directory}; stop with `make cluster-stop`")


def _stop(pid_file: Path) -> None:
    """SIGTERM the process named by the file, SIGKILL it if it lingers, forget the file."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)


def down(cluster: Cluster, *, quiet: bool = False) -> None:
    if not cluster.directory.exists():
        return
    pid_files = sorted(cluster.directory.glob("*.pid"))
    for pid_file in pid_files:
        _stop(pid_file)
    if pid_files and not quiet:
        print(f"Exchange cluster stopped ({len(pid_files)} processes)")


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in ("up", "down"):
        print("usage: python scripts/cluster.py up|down", file=sys.stderr)
        sys.exit(2)
    cluster = Cluster.from_environment()
    if sys.argv[1] == "up":
        up(cluster)
    else:
        down(cluster)


if __name__ == "__main__":
    main()
