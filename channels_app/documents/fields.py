"""What a document's fields may hold (SPEC §2 "Document"), for the services that write
them and the filters that search them: one rule for both."""

from __future__ import annotations

import unicodedata
from typing import Final

from django.conf.locale import LANG_INFO

from exchange.kernel.errors import BadRequest
from permissions.people.validators import clean_name

MAX_TITLE: Final = 200
MAX_SUMMARY: Final = 10_000
MAX_TAGS: Final = 20
MAX_TAG: Final = 40
MAX_NOTE: Final = 500
MAX_QUERY: Final = 200
# ISO 639-1 codes, as Django knows them: its locale table's two-letter keys.
LANGUAGES: Final = frozenset(code for code in LANG_INFO if len(code) == 2)


def clean_title(value: object) -> str:
    """1-200 characters once NFC-normalised and trimmed, nothing that hides or reorders
    what readers see (NUL, bidi and zero-width controls): the rule for names."""
    if not isinstance(value, str):
        raise BadRequest("title must be a string.", field="title")
    title = clean_name(value, field="title").strip()
    if not title:
        raise BadRequest("title may not be empty.", field="title")
    if len(title) > MAX_TITLE:
        raise BadRequest(f"title is longer than {MAX_TITLE} characters.", field="title")
    return title


def clean_summary(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequest("summary must be a string.", field="summary")
    if len(value) > MAX_SUMMARY:
        raise BadRequest(f"summary is longer than {MAX_SUMMARY} characters.", field="summary")
    if "\x00" in value:
        raise BadRequest("summary may not contain NUL characters.", field="summary")
    return value


TAG_RULE: Final = f"A tag is 1-{MAX_TAG} letters or digits of any script, joined by '-'."


def _tag_character_ok(char: str, previous: str) -> bool:
    """A letter (L*) or decimal digit (Nd) of any script, '-', or a combining mark (M*)
    that follows a letter or digit: scripts such as Devanagari write vowels as marks that
    NFC does not compose. Everything else is refused: spaces, punctuation, symbols,
    controls and format characters (bidi overrides, zero-width joiners), superscript or
    Roman-numeral "digits" that only look like digits, and a mark standing alone (it
    would stack on the '-' or on nothing)."""
    if char == "-":
        return True
    category = unicodedata.category(char)
    if category[0] == "L" or category == "Nd":
        return True
    return category[0] == "M" and previous not in ("", "-")


def clean_tag(value: object, *, field: str = "tags") -> str:
    """A tag as stored and searched: NFC-normalised and case-folded, so "Corrupção",
    "CORRUPÇÃO" and "corrupção" typed with a combining tilde are one tag. The length is
    counted after normalisation (case folding may lengthen: "ß" becomes "ss")."""
    if not isinstance(value, str):
        raise BadRequest(TAG_RULE, field=field)
    tag = unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())
    if not 1 <= len(tag) <= MAX_TAG:
        raise BadRequest(TAG_RULE, field=field)
    previous = ""
    for char in tag:
        if not _tag_character_ok(char, previous):
            raise BadRequest(f"{TAG_RULE} U+{ord(char):04X} is not allowed.", field=field)
        previous = char
    return tag


def clean_tags(values: object) -> list[str]:
    """At most 20 tags, each once."""
    if not isinstance(values, list):
        raise BadRequest("tags must be a list.", field="tags")
    if len(values) > MAX_TAGS:
        raise BadRequest(f"A document has at most {MAX_TAGS} tags.", field="tags")
    tags = [clean_tag(v) for v in values]
    if len(set(tags)) != len(tags):
        raise BadRequest("A tag appears twice.", field="tags")
    return sorted(tags)


def clean_language(value: object) -> str:
    if not isinstance(value, str) or value not in LANGUAGES:
        raise BadRequest(
            "language is an ISO 639-1 code in lowercase, such as 'es' or 'pt'.",
            field="language",
        )
    return value


def clean_note(value: object) -> str:
    if not isinstance(value, str):
        raise BadRequest("note must be a string.", field="note")
    if len(value) > MAX_NOTE:
        raise BadRequest(f"note is longer than {MAX_NOTE} characters.", field="note")
    if "\x00" in value:
        raise BadRequest("note may not contain NUL characters.", field="note")
    return value


def clean_query(value: object) -> str:
    """The `q` filter: some text to look for in titles and summaries."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("q may not be empty.", field="q")
    if len(value) > MAX_QUERY:
        raise BadRequest(f"q is longer than {MAX_QUERY} characters.", field="q")
    if "\x00" in value:
        raise BadRequest("q may not contain NUL characters.", field="q")
    return value.strip()
