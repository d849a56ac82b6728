"""The hostile corpus files of tests/security/corpus, read as lists of payloads."""

from __future__ import annotations

import re
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
_ESCAPE = re.compile(r"\{U\+([0-9A-Fa-f]{4,6})\}")


def load(name: str) -> list[str]:
    """The entries of a corpus file: separated by lines holding `%%`, `;;` lines left out,
    `{U+XXXX}` replaced by its code point, the newline before each separator dropped."""
    text = (CORPUS_DIR / name).read_text(encoding="utf-8")
    entries: list[str] = []
    for chunk in text.split("\n%%\n"):
        lines = [line for line in chunk.split("\n") if not line.startswith(";;")]
        entry = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), "\n".join(lines)).strip("\n")
        if entry:
            entries.append(entry)
    return entries


def hostile_markdown() -> list[str]:
    return load("hostile_markdown.txt")
