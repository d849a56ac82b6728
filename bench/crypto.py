"""Crypto benchmark: Exchange's Python age against the `age` command, same file, same run.

Why: every attachment is age-encrypted on the client and decrypted after download, so the
Python implementation (channels_app.e2ee) must not be the slow link. This encrypts and
decrypts one random file (256 MiB by default) with both, alternating them within each run,
checks each side decrypts the other's output, and prints the median time and throughput of
each operation with the ratio Python / age (1.0 = as fast; above 1 = slower).

Python decrypt is measured both ways the API offers: ``decrypt_to_path`` (written under a
temporary name and renamed into place once authenticated; what a client saving a file
uses) and ``decrypt`` into an open file (plaintext spooled to an anonymous temporary file,
then copied: one more write and read of the plaintext).

The ``transfer`` section uploads an age file (1 GiB by default) through a real Exchange
server (``python -m exchange.server``, the embedded mode on a scratch SQLite database) and
downloads it again, printing both throughputs and the server's resident memory: at rest,
and its peak (VmHWM) over the upload and download. The ciphertext store is the same disk.

The benchmark is made of sections (``--sections``); each returns its measurements, and the
report prints them together.

Run from the repository root:
    .venv/bin/python bench/crypto.py
    .venv/bin/python bench/crypto.py --size-mib 64 --runs 5 --json
    .venv/bin/python bench/crypto.py --sections transfer --transfer-mib 1024
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels_app.e2ee import X25519Identity, decrypt, decrypt_to_path, encrypt

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Measure:
    """One operation timed ``len(seconds)`` times on ``size`` bytes of plaintext."""

    section: str
    name: str
    size: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def mib_per_s(self) -> float:
        return self.size / MIB / self.median


@dataclass
class Ratio:
    """``ours`` divided by ``reference`` (medians): above 1 means ours is slower."""

    section: str
    name: str
    ours: str
    reference: str
    value: float


@dataclass
class SectionResult:
    measures: list[Measure]
    ratios: list[Ratio]
    figures: dict[str, float] = field(default_factory=dict)


Section = Callable[[argparse.Namespace, Path], SectionResult]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def write_random_file(path: Path, size: int) -> None:
    with path.open("wb") as out:
        remaining = size
        while remaining:
            block = os.urandom(min(remaining, 4 * MIB))
            out.write(block)
            remaining -= len(block)


def run_command(*argv: str) -> None:
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=3600)


def crypto_section(args: argparse.Namespace, work: Path) -> SectionResult:
    """Python age vs the `age` command: encrypt and decrypt of the same file."""
    age = shutil.which("age")
    if age is None:
        raise SystemExit("the age command is missing: run scripts/tools-up")
    size = args.size_mib * MIB
    plain = work / "plain.bin"
    log(f"crypto: writing {args.size_mib} MiB of random data to {plain}")
    write_random_file(plain, size)
    expected = sha256_of(plain)
    identity = X25519Identity.generate()
    recipient = str(identity.recipient)
    key_file = work / "key.txt"
    key_file.write_text(f"# bench\n{identity.to_string()}\n")
    key_file.chmod(0o600)
    ours_age, theirs_age = work / "py.age", work / "cmd.age"
    out = work / "out.bin"

    def py_encrypt() -> None:
        with plain.open("rb") as src, ours_age.open("wb") as dst:
            encrypt(src, dst, [identity.recipient])

    def age_encrypt() -> None:
        run_command(age, "-r", recipient, "-o", str(theirs_age), str(plain))

    # Each side decrypts the other's file, so the comparison also checks interop.
    def py_decrypt_to_path() -> None:
        with theirs_age.open("rb") as src:
            decrypt_to_path(src, out, [identity])

    def py_decrypt_spooled() -> None:
        with theirs_age.open("rb") as src, out.open("wb") as dst:
            decrypt(src, dst, [identity], spool_dir=work)

    def age_decrypt() -> None:
        run_command(age, "-d", "-i", str(key_file), "-o", str(out), str(ours_age))

    operations: list[tuple[str, Callable[[], None]]] = [
        ("encrypt: python", py_encrypt),
        ("encrypt: age", age_encrypt),
        ("decrypt: python decrypt_to_path", py_decrypt_to_path),
        ("decrypt: python decrypt (spooled)", py_decrypt_spooled),
        ("decrypt: age", age_decrypt),
    ]
    measures = {name: Measure("crypto", name, size) for name, _ in operations}
    for run in range(args.runs + (0 if args.no_warmup else 1)):
        warmup = run == 0 and not args.no_warmup
        # Encrypt before decrypt (each decrypts the other's file); alternate who goes first
        # within each, so neither always finds the page cache warmer.
        encrypts = [op for op in operations if op[0].startswith("encrypt")]
        decrypts = [op for op in operations if op[0].startswith("decrypt")]
        if run % 2:
            encrypts.reverse()
            decrypts.reverse()
        for name, action in encrypts + decrypts:
            # Untimed: no stale output to truncate, and no dirty pages of the previous
            # operation for this one to wait on.
            target = {"encrypt: python": ours_age, "encrypt: age": theirs_age}.get(name, out)
            target.unlink(missing_ok=True)
            os.sync()
            seconds = timed(action)
            if name.startswith("decrypt") and sha256_of(out) != expected:
                raise SystemExit(f"{name}: the decrypted file differs from the original")
            if not warmup:
                measures[name].seconds.append(seconds)
            log(f"crypto: run {'warm-up' if warmup else run}: {name} {seconds:.3f} s")

    def ratio(name: str, ours: str, reference: str) -> Ratio:
        value = measures[ours].median / measures[reference].median
        return Ratio("crypto", name, ours, reference, value)

    ratios = [
        ratio("encrypt", "encrypt: python", "encrypt: age"),
        ratio("decrypt", "decrypt: python decrypt_to_path", "decrypt: age"),
        ratio("decrypt spooled", "decrypt: python decrypt (spooled)", "decrypt: age"),
    ]
    return SectionResult(list(measures.values()), ratios)


def _server_env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exchange.settings",
        "EXCHANGE_DEBUG": "0",
        "EXCHANGE_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "EXCHANGE_MEDIA_ROOT": str(work / "media"),
        "EXCHANGE_MAX_UPLOAD_MB": "4096",
        "REDIS_URL": "",
    }


def _manage(env: dict[str, str], *argv: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *argv], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return result.stdout.strip()


def _rss_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field_name} not found for {pid}")


def _request(
    port: int, method: str, path: str, token: str, body: object = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=all_headers)  # type: ignore[arg-type]
    return connection.getresponse()


def _multipart(
    parts: list[tuple[str, str | None, Path | bytes]], boundary: str
) -> tuple[int, Callable[[], object]]:
    """A multipart body streamed from disk: (its length, a function making its chunks)."""
    pieces: list[bytes | Path] = []
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        pieces.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode())
        if filename:
            pieces.append(b"Content-Type: application/octet-stream\r\n")
        pieces.append(b"\r\n")
        pieces.append(value)
        pieces.append(b"\r\n")
    pieces.append(f"--{boundary}--\r\n".encode())
    length = sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in pieces)

    def chunks() -> Iterator[bytes]:
        for piece in pieces:
            if isinstance(piece, Path):
                with piece.open("rb") as source:
                    while block := source.read(MIB):
                        yield block
            else:
                yield piece

    return length, chunks


def transfer_section(args: argparse.Namespace, work: Path) -> SectionResult:
    """Upload and download through a real server, with the server's peak memory."""
    from channels_app.e2ee import encrypt_bytes

    env = _server_env(work)
    log("transfer: preparing a scratch database")
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(
        env, "create_institution", "bench", "--name", "Bench", "--country", "ES", "--kind", "police"
    )
    _manage(env, "create_user", "bench", "--institution", "bench")
    _manage(env, "admit", "cybercrime", "bench")
    token = _manage(env, "issue_token", "bench")
    size = args.transfer_mib * MIB
    plain, sealed = work / "transfer.bin", work / "transfer.age"
    write_random_file(plain, size)
    identity, epoch = X25519Identity.generate(), X25519Identity.generate()
    with plain.open("rb") as src, sealed.open("wb") as dst:
        encrypt(src, dst, [epoch.recipient])
    plain.unlink()
    meta = encrypt_bytes(json.dumps({"name": "x.bin", "size": size}).encode(), [epoch.recipient])
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "exchange.server", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
         "exchange.asgi:application"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for(port)
        _request(
            port, "PUT", "/api/v1/keys/me", token, {"public_key": str(identity.recipient)}
        ).read()
        share = encrypt_bytes(f"{epoch.to_string()}\n".encode(), [identity.recipient])
        created = _request(port, "POST", "/api/v1/channels/cybercrime/epochs", token, {
            "number": 1, "public_key": str(epoch.recipient),
            "shares": [{"username": "bench", "ciphertext": base64.b64encode(share).decode()}],
        })  # fmt: skip
        if created.status != 201:
            raise SystemExit(f"transfer: epoch refused: {created.read()[:300]!r}")
        created.read()
        rest = _rss_kib(server.pid, "VmRSS")
        upload = Measure("transfer", "upload through exchange.server", sealed.stat().st_size)
        download = Measure("transfer", "download through exchange.server", sealed.stat().st_size)
        peak_upload = 0
        for run in range(args.runs):
            boundary = f"bench{run}{os.getpid()}"
            length, chunks = _multipart(
                [("epoch", None, b"1"), ("meta", "meta.age", meta), ("file", "file.age", sealed)],
                boundary,
            )
            start = time.perf_counter()
            headers = {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            }
            url = "/api/v1/channels/cybercrime/attachments"
            response = _request(port, "POST", url, token, chunks(), headers)
            answer = json.loads(response.read())
            upload.seconds.append(time.perf_counter() - start)
            if response.status != 201:
                raise SystemExit(f"transfer: upload refused: {answer}")
            peak_upload = max(peak_upload, _rss_kib(server.pid, "VmHWM"))
            start = time.perf_counter()
            response = _request(port, "GET", f"/api/v1/attachments/{answer['id']}", token)
            digest = hashlib.sha256()
            while block := response.read(MIB):
                digest.update(block)
            download.seconds.append(time.perf_counter() - start)
            if digest.hexdigest() != answer["sha256"] or digest.hexdigest() != sha256_of(sealed):
                raise SystemExit("transfer: the downloaded file differs from the upload")
            up, down = upload.seconds[-1], download.seconds[-1]
            log(f"transfer: run {run}: up {up:.2f} s, down {down:.2f} s")
        peak = _rss_kib(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"transfer: server RSS at rest {rest / 1024:.0f} MiB, peak over {args.runs} upload(s) and "
        f"download(s) of {sealed.stat().st_size / MIB:.0f} MiB: {peak / 1024:.0f} MiB"
    )
    return SectionResult(
        [upload, download], [], {"rss_rest_mib": rest / 1024, "rss_peak_mib": peak / 1024}
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("transfer: the server did not start")


SECTIONS: dict[str, Section] = {"crypto": crypto_section, "transfer": transfer_section}


def report(results: dict[str, SectionResult], args: argparse.Namespace) -> None:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"age benchmark: {python}, {os.cpu_count()} cores, {args.runs} runs (medians)")
    header = f"{'section':<8} {'operation':<36} {'MiB':>6} {'median s':>9} {'MiB/s':>8}"
    print(header)
    print("-" * len(header))
    for result in results.values():
        for m in result.measures:
            line = f"{m.section:<8} {m.name:<36} {m.size // MIB:>6} {m.median:>9.3f}"
            print(f"{line} {m.mib_per_s:>8.1f}")
    print("\nratios, python / age (time; 1.0 = as fast, above 1 = slower):")
    for result in results.values():
        for r in result.ratios:
            print(f"  {r.section} {r.name}: {r.value:.2f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sections", default=",".join(SECTIONS), help=",".join(SECTIONS))
    p.add_argument("--size-mib", type=int, default=256, help="plaintext size")
    p.add_argument("--transfer-mib", type=int, default=1024, help="upload size (transfer)")
    p.add_argument("--runs", type=int, default=3, help="timed runs (medians are reported)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed first run")
    p.add_argument("--dir", type=Path, default=None, help="where the files go (temp dir)")
    p.add_argument("--json", action="store_true", help="JSON on stdout after the table")
    args = p.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.runs < 1 or args.size_mib < 1:
        p.error("--runs and --size-mib must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-crypto-", dir=args.dir) as directory:
        results = {name: SECTIONS[name](args, Path(directory)) for name in args.sections}
    report(results, args)
    if args.json:
        payload = {
            name: {
                "measures": [
                    {**asdict(m), "median": m.median, "mib_per_s": m.mib_per_s}
                    for m in result.measures
                ],
                "ratios": [asdict(r) for r in result.ratios],
                "figures": result.figures,
            }
            for name, result in results.items()
        }
        print(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
