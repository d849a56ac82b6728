"""The C2SP CCTV age test vectors, read from the ``cctv-age`` npm package.

Why through node: the package's documented interface is its module exports (one
``Uint8Array`` per vector); asking node for them keeps us independent of how the package
bundles its files. Each vector is a few ``key: value`` lines, a blank line, then the age
file (zlib-compressed when ``compressed: zlib``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGE_DIR = REPO / "node_modules" / "cctv-age"
EXPECTATIONS = {
    "success",
    "header failure",
    "HMAC failure",
    "no match",
    "payload failure",
    "armor failure",
}
_KNOWN_KEYS = {
    "expect",
    "payload",
    "file key",
    "identity",
    "passphrase",
    "armored",
    "compressed",
    "comment",
}
_DUMP = """
import * as vectors from "cctv-age";
const out = {};
for (const [name, bytes] of Object.entries(vectors)) {
  if (bytes instanceof Uint8Array) out[name] = Buffer.from(bytes).toString("base64");
}
process.stdout.write(JSON.stringify(out));
"""


@dataclass(frozen=True)
class Vector:
    name: str
    expect: str
    payload_sha256: bytes | None
    file_key: bytes | None
    identities: tuple[str, ...]
    passphrases: tuple[str, ...]
    armored: bool
    comment: str
    unknown_keys: tuple[str, ...]
    file: bytes

    @property
    def family(self) -> str:
        """The part of the name before the first underscore: x25519, scrypt, stream…"""
        return self.name.split("_", 1)[0]

    @property
    def post_quantum(self) -> bool:
        """Uses the ML-KEM-768 + X25519 hybrid identities, which we do not implement."""
        return any(identity.startswith("AGE-SECRET-KEY-PQ-") for identity in self.identities)

    @property
    def supported(self) -> bool:
        return not self.post_quantum and not self.unknown_keys

    def __str__(self) -> str:
        return self.name


def parse_vector(name: str, data: bytes) -> Vector:
    head, separator, body = data.partition(b"\n\n")
    if not separator:
        raise ValueError(f"{name}: no blank line after the vector's header")
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").split("\n"):
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    (expect,) = fields["expect"]
    if expect not in EXPECTATIONS:
        raise ValueError(f"{name}: unknown expectation {expect!r}")
    compressed = fields.get("compressed", [None])[0]
    if compressed is not None:
        if compressed != "zlib":
            raise ValueError(f"{name}: unknown compression {compressed!r}")
        body = zlib.decompress(body)
    payload = fields.get("payload", [None])[0]
    file_key = fields.get("file key", [None])[0]
    return Vector(
        name=name,
        expect=expect,
        payload_sha256=bytes.fromhex(payload) if payload else None,
        file_key=bytes.fromhex(file_key) if file_key else None,
        identities=tuple(fields.get("identity", [])),
        passphrases=tuple(fields.get("passphrase", [])),
        armored=fields.get("armored", ["no"])[0] == "yes",
        comment=fields.get("comment", [""])[0],
        unknown_keys=tuple(sorted(set(fields) - _KNOWN_KEYS)),
        file=body,
    )


def missing_reason() -> str | None:
    """Why the vectors cannot be read here, or ``None`` when they can."""
    if not (PACKAGE_DIR / "package.json").is_file():
        return f"the cctv-age package is not installed in {PACKAGE_DIR} (run `npm ci`)"
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs)"
    return None


@cache
def load() -> tuple[Vector, ...]:
    """Every vector of the installed package, sorted by name; empty when unavailable."""
    if missing_reason() is not None:
        return ()
    result = subprocess.run(
        ["node", "--input-type=module", "-e", _DUMP],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(REPO / "node_modules")},
    )
    dumped: dict[str, str] = json.loads(result.stdout)
    return tuple(
        parse_vector(name, base64.b64decode(data)) for name, data in sorted(dumped.items())
    )
