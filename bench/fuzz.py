"""Coverage-guided fuzzing (atheris, libFuzzer) of the two parsers that read hostile bytes
before any check of who sent them: the age header of an upload, and a WebSocket frame.

Each target states the parser's contract, and anything else is a finding:
- ``age-header``: ``check_age_header`` returns a header or raises ``AgeError``; a header
  it accepts is at most 8 KiB and re-encodes to exactly the bytes it read (one canonical
  encoding, so the MAC covers what was parsed).
- ``frame``: ``parse_frame`` returns one of SPEC §4's frame models or raises
  ``FrameRefused`` carrying a ``bad_request`` or ``too_large`` error.

Run from the repository root:
    .venv/bin/python -m bench.fuzz                      # every target, 60 s each
    .venv/bin/python -m bench.fuzz --seconds 600        # longer
    .venv/bin/python -m bench.fuzz --target frame --runs 20000   # one bounded run (the tests)

The report prints, per target, the executions, executions per second, the coverage reached
and the findings (crashing inputs are saved under var/fuzz/). The suite runs each target
for a fixed number of executions with a fixed seed (tests/security/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FINDINGS_DIR = ROOT / "var" / "fuzz"


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    os.environ.setdefault("EXCHANGE_DEBUG", "1")
    import django

    django.setup()


# --- targets -------------------------------------------------------------------------


def age_header_target() -> Callable[[bytes], None]:
    from channels_app.e2ee import AgeError, check_age_header
    from channels_app.e2ee.header import MAX_HEADER_BYTES, encode

    def test_one_input(data: bytes) -> None:
        stanza_type = "scrypt" if data[:1] == b"s" else "X25519"
        try:
            header = check_age_header(
                io.BytesIO(data[1:]), stanza_type=stanza_type, total_size=len(data) - 1
            )
        except AgeError:
            return
        if header.size > MAX_HEADER_BYTES:
            raise AssertionError(f"accepted a header of {header.size} bytes")
        if not data[1:].startswith(encode(header)):
            raise AssertionError("accepted a header that does not re-encode to its bytes")

    return test_one_input


def age_header_seeds() -> list[bytes]:
    from channels_app.e2ee import ScryptRecipient, X25519Identity, encrypt_bytes

    one = X25519Identity.generate().recipient
    two = X25519Identity.generate().recipient
    return [
        b"x" + encrypt_bytes(b"", [one]),
        b"x" + encrypt_bytes(b"attachment" * 100, [one, two]),
        b"s" + encrypt_bytes(b"backup", [ScryptRecipient("recovery", work_factor=2)]),
        b"x" + b"age-encryption.org/v1\n-> X25519 \n\n--- \n",
    ]


def frame_target() -> Callable[[bytes], None]:
    import atheris

    from channels_app.socket.frames import FRAMES, FrameRefused, parse_frame

    def test_one_input(data: bytes) -> None:
        if data[:1] == b"\x00":
            text = data[1:].decode("utf-8", "replace")
        else:  # any code points, lone surrogates included
            text = atheris.FuzzedDataProvider(data[1:]).ConsumeUnicode(len(data))
        try:
            frame = parse_frame(text)
        except FrameRefused as refused:
            if refused.error.code not in ("bad_request", "too_large"):
                raise AssertionError(f"refused with {refused.error.code}") from None
            return
        if frame.type not in FRAMES:  # type: ignore[attr-defined]
            raise AssertionError(f"accepted a frame of type {frame.type!r}")  # type: ignore[attr-defined]

    return test_one_input


def frame_seeds() -> list[bytes]:
    frames = [
        '{"type": "ping"}',
        '{"type": "subscribe", "channel": "ops", "after": 12}',
        '{"type": "unsubscribe", "channel": "ops"}',
        '{"type": "message.send", "channel": "ops", "client_id": '
        '"5b0c1b8e-2f0e-4a55-9d84-3c0f1c1f0a01", "body": "hi", "parent": 3, '
        '"attachments": [1, 2], "handling_code": "TLP:AMBER"}',
        '{"type": "ping", "x": [[[{"a": 1.5e3}]]], "y": "\\ud800"}',
    ]
    return [b"\x00" + frame.encode() for frame in frames]


TARGETS: dict[str, tuple[Callable[[], Callable[[bytes], None]], Callable[[], list[bytes]]]] = {
    "age-header": (age_header_target, age_header_seeds),
    "frame": (frame_target, frame_seeds),
}
# Only the project's parsing code is instrumented for coverage: instrumenting all of
# Django and pydantic would take minutes and steer the fuzzer toward their code.
INSTRUMENTED = {
    "age-header": ("channels_app.e2ee",),
    "frame": (
        "channels_app.socket.frames",
        "channels_app.messages.schemas",
        "channels_app.evaluations.schemas",
        "exchange.kernel.json_input",
    ),
}


def _instrument(prefixes: tuple[str, ...]) -> None:
    import inspect

    import atheris

    for name, module in list(sys.modules.items()):
        if not name.startswith(prefixes):
            continue
        for value in vars(module).values():
            functions = [value] if inspect.isfunction(value) else []
            if inspect.isclass(value) and value.__module__ == name:
                functions = [f for f in vars(value).values() if inspect.isfunction(f)]
            for function in functions:
                if function.__module__ == name:
                    atheris.instrument_func(function)


# --- running -------------------------------------------------------------------------


def run_target(name: str, libfuzzer_args: list[str]) -> None:
    """Fuzz one target in this process; libFuzzer exits the process when done."""
    import atheris

    _setup_django()
    make_target, make_seeds = TARGETS[name]
    test_one_input = make_target()
    _instrument(INSTRUMENTED[name])
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for number, seed in enumerate(make_seeds()):
        (corpus / f"seed-{number}").write_bytes(seed)
    FINDINGS_DIR.mkdir(parents=True, exist_ok=True)
    argv = [sys.argv[0], str(corpus), f"-artifact_prefix={FINDINGS_DIR}/{name}-", *libfuzzer_args]
    try:
        atheris.Setup(argv, test_one_input)
        atheris.Fuzz()
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


def _stat(text: str, name: str) -> int | None:
    match = re.search(rf"stat::{name}:\s*(\d+)", text)
    return int(match.group(1)) if match else None


def report(seconds: int) -> int:
    """Fuzz every target in a child process for `seconds`; print the figures; 1 on findings."""
    print(f"{'target':<12} {'executions':>11} {'exec/s':>8} {'coverage':>9}  findings")
    found = 0
    for name in TARGETS:
        child = subprocess.run(
            [sys.executable, "-m", "bench.fuzz", "--target", name, "--",
             f"-max_total_time={seconds}", "-print_final_stats=1"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        log = child.stderr
        coverage = re.findall(r"cov: (\d+)", log)
        crashed = child.returncode != 0
        found += crashed
        artifact = re.search(r"Test unit written to (\S+)", log)
        print(
            f"{name:<12} {_stat(log, 'number_of_executed_units') or 0:>11}"
            f" {_stat(log, 'average_exec_per_sec') or 0:>8} {coverage[-1] if coverage else '?':>9}"
            f"  {(artifact.group(1) if artifact else 'crash, see log') if crashed else 'none'}"
        )
        if crashed:
            print(log[-3000:], file=sys.stderr)
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=sorted(TARGETS), help="fuzz this target only")
    parser.add_argument("--runs", type=int, help="with --target: stop after this many inputs")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer's seed (0: random)")
    parser.add_argument("--seconds", type=int, default=60, help="per target, without --target")
    parser.add_argument("libfuzzer", nargs="*", help="after --: options passed to libFuzzer")
    args = parser.parse_args()
    if args.target is None:
        return report(args.seconds)
    extra = list(args.libfuzzer)
    if args.runs is not None:
        extra.append(f"-runs={args.runs}")
    if args.seed:
        extra.append(f"-seed={args.seed}")
    run_target(args.target, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
