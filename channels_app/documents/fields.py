"""What a document's fields may hold (SPEC §2 "Document"), for the services that write
them and the filters that search them: one rule for both."""

from __future__ import annotations

import re
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
TAG_PATTERN: Final = r"^[a-z0-9-]{1,40}$"
# ISO 639-1 codes, as Django knows them: its locale table's two-letter keys.
LANGUAGES: Final = frozenset(code for code in LANG_INFO if len(code) == 2)

_TAG = re.compile(TAG_PATTERN)


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


def clean_tag(value: object, *, field: str = "tags") -> str:
    if not isinstance(value, str) or not _TAG.match(value):
        raise BadRequest(f"A tag is 1-{MAX_TAG} lowercase letters, digits or '-'.", field=field)
    return value


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
