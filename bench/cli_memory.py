"""How much client memory a large transfer costs: `exchange-cli upload` and `download`.

Issue 13 asks for constant memory: a 1 GiB file with under 64 MiB of client RSS growth.
This script sets up a throwaway server (SQLite, its own file store, in a temporary
directory), makes a user through `manage.py`, and runs the console script as a user would,
sampling the client process's resident set size from /proc. Growth is the peak RSS of the
large transfer minus the peak RSS of the same command on a 1 KiB file, so the interpreter
and its imports cancel out. It prints figures; it is not a test.

    .venv/bin/python bench/cli_memory.py            # 1 GiB
    .venv/bin/python bench/cli_memory.py --mib 256
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("exchange-cli"))
BLOCK = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def measured(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float, str]:
    """Run the CLI; return its peak RSS (KiB, sampled every 20 ms), seconds, and stdout."""
    started = time.monotonic()
    process = subprocess.Popen(
        [CLI, *argv], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = 0

    def sample() -> None:
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, rss_kib(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, stderr = process.communicate()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {stderr.decode()}")
    return peak, time.monotonic() - started, stdout.decode().strip()


def write_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[: min(BLOCK, left)]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the large file (MiB)")
    size = parser.parse_args().mib * BLOCK
    with tempfile.TemporaryDirectory(prefix="cli-memory-") as scratch:
        work = Path(scratch)
        (work / "home").mkdir(mode=0o700)
        server_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "exchange.settings",
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "EXCHANGE_MEDIA_ROOT": str(work / "media"),
            "EXCHANGE_MAX_UPLOAD_MB": str(size // BLOCK + 16),
            "EXCHANGE_SECRET_KEY": "bench-cli-memory-not-a-secret-0123456789abcdef",
            "EXCHANGE_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EXCHANGE_DEBUG": "0",
            "EXCHANGE_SECURE_COOKIES": "0",
            "EXCHANGE_SSL_REDIRECT": "0",
            "REDIS_URL": "",
        }

        def manage(*argv: str) -> str:
            done = subprocess.run(
                [sys.executable, "manage.py", *argv],
                cwd=ROOT, env=server_env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            return done.stdout.strip()

        manage("migrate", "--verbosity", "0")
        manage("create_institution", "bench-police", "--name", "Bench Police", "--country",
               "ES", "--kind", "police")  # fmt: skip
        manage("create_user", "bench", "--institution", "bench-police")
        manage("admit", "cybercrime", "bench-police")
        token = work / "token"
        token.write_text(manage("issue_token", "bench").splitlines()[-1])

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "exchange.server", "-b", "127.0.0.1", "-p", str(port),
             "-v", "0", "exchange.asgi:application"],
            cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
            env = {**os.environ, "EXCHANGE_CLI_CONFIG": str(work / "home" / "config.json")}
            home = work / "home"
            url = f"http://127.0.0.1:{port}"
            subprocess.run([CLI, "login", url, "--token-file", str(token)], env=env, check=True)
            subprocess.run([CLI, "keygen"], env=env, check=True, capture_output=True)

            small, large = work / "small.bin", work / "large.bin"
            write_file(small, 1024)
            expected = write_file(large, size)

            base_up, _, small_id = measured(["upload", "cybercrime", str(small)], env, home)
            peak_up, up_s, large_id = measured(["upload", "cybercrime", str(large)], env, home)
            large.unlink()  # keep the disk use to the store and one copy
            out_small, out_large = work / "small.out", work / "large.out"
            base_down, _, _ = measured(["download", small_id, "-o", str(out_small)], env, home)
            peak_down, down_s, _ = measured(["download", large_id, "-o", str(out_large)], env, home)
            intact = sha256_of(out_large) == expected
        finally:
            server.terminate()
            server.wait(timeout=10)

    mib = size / BLOCK
    up_growth, down_growth = (peak_up - base_up) / 1024, (peak_down - base_down) / 1024
    print(f"file: {mib:.0f} MiB; client peak RSS for a 1 KiB transfer:")
    print(f"  upload {base_up / 1024:.1f} MiB, download {base_down / 1024:.1f} MiB")
    print(f"upload:   peak RSS {peak_up / 1024:.1f} MiB, growth {up_growth:.1f} MiB,")
    print(f"  {up_s:.1f} s ({mib / up_s:.0f} MiB/s)")
    print(f"download: peak RSS {peak_down / 1024:.1f} MiB, growth {down_growth:.1f} MiB,")
    print(f"  {down_s:.1f} s ({mib / down_s:.0f} MiB/s)")
    print(f"downloaded plaintext matches the original: {intact}")


if __name__ == "__main__":
    main()
