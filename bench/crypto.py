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

The benchmark is made of sections (``--sections``); each returns its measurements, and the
report prints them together. Only ``crypto`` exists for now; upload/download sections are
meant to be added to ``SECTIONS``.

Run from the repository root:
    .venv/bin/python bench/crypto.py
    .venv/bin/python bench/crypto.py --size-mib 64 --runs 5 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels_app.e2ee import X25519Identity, decrypt, decrypt_to_path, encrypt

MIB = 1024 * 1024


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


SECTIONS: dict[str, Section] = {"crypto": crypto_section}


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
            }
            for name, result in results.items()
        }
        print(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
