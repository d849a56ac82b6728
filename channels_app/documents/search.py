"""Full-text search of the library, on PostgreSQL and on SQLite, with the same hits.

What a document is found by is computed here, in Python, once, for both databases:
its words (title, tags, summary) case-folded and stripped of accents, and the Snowball
stem of each word in the document's language (`snowballstemmer`), computed from the
accented word and then stripped of accents. Stemming must see the accents: Snowball's
Portuguese and Spanish rules are written for them, and an unaccented "corrupcao" stems
to "corrupca" where "corrupção" stems to "corrupçã" (which, unaccented, is "corrupca"
again). A query word is looked for as itself and as its stem in each library language,
so `informacion` finds "informaciones" (both "inform"), `enquete` finds "Enquêtes", and
`corrupcao` finds "corrupção", on both databases alike.

- PostgreSQL: `search_config` (a stored regconfig: the document's language), and two
  GIN-indexed tsvectors: `search_stemmed`, PostgreSQL's own Snowball over the text in
  that language, and `search_plain`, the `simple` configuration over the Python terms
  above (unaccented words and stems; title and tags weighted A). A query OR-s the two
  for each word or phrase and AND-s the words; ranked with ts_rank_cd.
- SQLite: an FTS5 table (`unicode61 remove_diacritics 2`) holding the same terms in
  two columns, `plain` and `stems`, its rowid the document's id; ranked with bm25.

Both are written by `index_document`, which the document services call in the
transaction of every add, change and withdrawal (no signal does it behind their back).
User text never reaches either engine as query syntax: `parse_query` keeps only words
(runs of letters and digits) and quoted phrases of them, and the SQL receives them as
parameters of plainto/phraseto_tsquery or as FTS5 strings that can hold no quote.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Final

import snowballstemmer
from django.db import connection

# The library's languages: ISO 639-1 → (PostgreSQL's text search configuration, the
# Snowball algorithm). Any other language is indexed by its words alone.
LANGUAGES: Final = {
    "es": ("spanish", "spanish"),
    "pt": ("portuguese", "portuguese"),
    "fr": ("french", "french"),
    "it": ("italian", "italian"),
    "en": ("english", "english"),
}
NO_STEMMING: Final = "simple"
MAX_UNITS: Final = 8  # words and phrases of one query: more narrows nothing useful
MAX_PHRASE: Final = 8
FTS_TABLE: Final = "channels_app_document_fts"

_WORD = re.compile(r"[^\W_]+")
_UNIT = re.compile(r'"([^"]*)"|([^"\s]+)')


@cache
def _stemmer(algorithm: str) -> Any:
    return snowballstemmer.stemmer(algorithm)


def unaccented(word: str) -> str:
    """`word` without its combining marks ("ç" → "c", "ê" → "e"), in NFC."""
    decomposed = unicodedata.normalize("NFKD", word)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


def words(text: str) -> list[str]:
    """The words of `text`, case-folded, in order: runs of letters and digits."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


@lru_cache(maxsize=200_000)
def stem(word: str, language: str) -> str:
    """The Snowball stem of a case-folded `word` in `language`, unaccented afterwards.
    Cached: the pure-Python stemmer costs about 0.1 ms a word, and a library's
    vocabulary is small beside the number of times its words are stemmed."""
    entry = LANGUAGES.get(language)
    stemmed = _stemmer(entry[1]).stemWord(word) if entry else word
    return unaccented(stemmed)


def config_for(language: str) -> str:
    """The PostgreSQL text search configuration of a document's language."""
    entry = LANGUAGES.get(language)
    return entry[0] if entry else NO_STEMMING


@dataclass(frozen=True)
class Terms:
    """What one part of a document is found by: its unaccented words and their stems,
    position for position (a phrase matches on either)."""

    plain: str
    stems: str


def terms(text: str, language: str) -> Terms:
    found = words(text)
    return Terms(
        plain=" ".join(unaccented(w) for w in found),
        stems=" ".join(stem(w, language) for w in found),
    )


MIN_PREFIX: Final = 3


@dataclass(frozen=True)
class Unit:
    """One word, or one quoted phrase, of a query: every one must match. The last word of
    a query, typed without a space after it, also matches as the start of a word (search
    as you type), once it has MIN_PREFIX characters."""

    words: tuple[str, ...]  # case-folded, accents as typed
    prefix: bool = False

    @property
    def plain(self) -> str:
        return " ".join(unaccented(w) for w in self.words)

    def stems(self) -> list[str]:
        """The unit stemmed in each library language, each distinct rendering once."""
        seen: dict[str, None] = {}
        for language in LANGUAGES:
            seen.setdefault(" ".join(stem(w, language) for w in self.words), None)
        return [s for s in seen if s != self.plain]


def parse_query(q: str) -> list[Unit]:
    """`q` as words and "quoted phrases"; everything else (FTS operators, `*`, `:`, `-`,
    `NEAR`, an unbalanced quote) is only a separator or a word like any other. An
    unbalanced quote opens no phrase: its words count one by one."""
    units: list[Unit] = []
    balanced = q.count('"') % 2 == 0
    text = q if balanced else q.replace('"', " ")
    for match in _UNIT.finditer(text):
        phrase, bare = match.groups()
        found = words(phrase if phrase is not None else bare)
        if phrase is not None and len(found) > 1:
            units.append(Unit(tuple(found[:MAX_PHRASE])))
        else:
            units.extend(Unit((w,)) for w in found)
    units = units[:MAX_UNITS]
    last = units[-1] if units else None
    typing = bool(q) and not q[-1].isspace() and q.rstrip()[-1:] != '"'
    if last is not None and typing and len(last.words) == 1 and len(last.plain) >= MIN_PREFIX:
        units[-1] = Unit(last.words, prefix=True)
    return units


# --- writing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Indexed:
    """What a document is searched by, as the services hold it."""

    document_id: int
    title: str
    summary: str
    tags: list[str]
    language: str


_PG_INDEX = """UPDATE channels_app_document SET
     search_config = %s::regconfig,
     search_stemmed =
       setweight(to_tsvector(%s::regconfig, %s), 'A') || to_tsvector(%s::regconfig, %s),
     search_plain =
       setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector('simple', %s), 'A')
       || to_tsvector('simple', %s) || to_tsvector('simple', %s)
   WHERE id = %s"""


def _pg_row(entry: Indexed) -> list[Any]:
    config = config_for(entry.language)
    head_text = " ".join([entry.title, *entry.tags])
    head, body = terms(head_text, entry.language), terms(entry.summary, entry.language)
    return [
        config,
        config,
        head_text,
        config,
        entry.summary,
        head.plain,
        head.stems,
        body.plain,
        body.stems,
        entry.document_id,
    ]


def _fts5_row(entry: Indexed) -> list[Any]:
    head = terms(" ".join([entry.title, *entry.tags]), entry.language)
    body = terms(entry.summary, entry.language)
    return [entry.document_id, f"{head.plain} {body.plain}", f"{head.stems} {body.stems}"]


def index_documents(entries: list[Indexed]) -> None:
    """Write the documents' search terms (this database's form), replacing what was
    there: called by the services that add or change a document, inside their
    transaction (and by the migration and the bench, in bulk)."""
    if not entries:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(_PG_INDEX, [_pg_row(e) for e in entries])
        else:
            cursor.executemany(
                f"DELETE FROM {FTS_TABLE} WHERE rowid = %s",  # noqa: S608
                [[e.document_id] for e in entries],
            )
            cursor.executemany(
                f"INSERT INTO {FTS_TABLE} (rowid, plain, stems) VALUES (%s, %s, %s)",  # noqa: S608
                [_fts5_row(e) for e in entries],
            )


def index_document(
    *, document_id: int, title: str, summary: str, tags: list[str], language: str
) -> None:
    """index_documents for one document."""
    index_documents([Indexed(document_id, title, summary, tags, language)])


def unindex_document(document_id: int) -> None:
    """Forget a withdrawn document's terms: no search can find it, whatever the filter."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE channels_app_document SET search_stemmed = NULL, search_plain = NULL "
                "WHERE id = %s",
                [document_id],
            )
        else:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [document_id])  # noqa: S608


# --- reading ------------------------------------------------------------------------


def _fts5_string(text: str) -> str:
    """An FTS5 string: `text` holds only letters, digits and spaces (Unit), so quoting
    it cannot end the string early."""
    return '"' + text.replace('"', "") + '"'


def fts5_expression(units: list[Unit]) -> str:
    """The FTS5 MATCH expression for `units`: each unit as its words or any stem."""
    clauses = []
    for unit in units:
        options = [f"plain : {_fts5_string(unit.plain)}", f"stems : {_fts5_string(unit.plain)}"]
        options += [f"stems : {_fts5_string(s)}" for s in unit.stems()]
        if unit.prefix:
            start = _fts5_string(unit.plain)
            options += [f"plain : {start} *", f"stems : {start} *"]
        clauses.append("(" + " OR ".join(options) + ")")
    return " AND ".join(clauses)


def _pg_plain_query(unit: Unit) -> tuple[str, list[str]]:
    parts = ["phraseto_tsquery('simple', %s)"] * (1 + len(unit.stems()))
    params = [unit.plain, *unit.stems()]
    if unit.prefix:
        # The word holds only letters and digits (parse_query): quoted, it is one
        # lexeme of to_tsquery's syntax, and `:*` makes it a prefix.
        parts.append("to_tsquery('simple', %s)")
        params.append(f"'{unit.plain}':*")
    return "(" + " || ".join(parts) + ")", params


def pg_match(units: list[Unit], table: str) -> tuple[str, list[Any]]:
    """A WHERE fragment for PostgreSQL: per unit, the plain vector or the stemmed one in
    the document's own configuration; all units. Every @@ can use a GIN index."""
    clauses: list[str] = []
    params: list[Any] = []
    for unit in units:
        plain_sql, plain_params = _pg_plain_query(unit)
        options = [f"{table}.search_plain @@ {plain_sql}"]
        params += plain_params
        for config, _ in LANGUAGES.values():
            options.append(
                f"({table}.search_config = '{config}'::regconfig"
                f" AND {table}.search_stemmed @@ phraseto_tsquery('{config}', %s))"
            )
            params.append(" ".join(unit.words))
        clauses.append("(" + " OR ".join(options) + ")")
    return " AND ".join(clauses), params


def pg_rank(units: list[Unit], table: str) -> tuple[str, list[Any]]:
    """ts_rank_cd of the plain vector against every unit."""
    parts, params = [], []
    for unit in units:
        sql, unit_params = _pg_plain_query(unit)
        parts.append(sql)
        params += unit_params
    return f"ts_rank_cd({table}.search_plain, {' && '.join(parts)})", params


# --- the snippet ----------------------------------------------------------------------

SNIPPET_WORDS: Final = 30


@lru_cache(maxsize=200_000)
def _token_keys(token: str, language: str) -> tuple[str, str] | None:
    """A token of a text as search sees it (unaccented word, stem), None for what is not
    a word: cached, since a page of snippets reads the same words over and over."""
    folded = unicodedata.normalize("NFC", token).casefold()
    if not _WORD.fullmatch(folded):
        return None
    return unaccented(folded), stem(folded, language)


_TOKEN = re.compile(r"[^\W_]+|[\W_]+")


def snippet(units: list[Unit], title: str, summary: str, language: str) -> str | None:
    """The title, or the part of the summary around the first hit, as HTML in which the
    words that matched are in <mark> and everything else is escaped text: sanitised by
    construction (the only element is <mark>, with no attribute). None when no word of
    either is a hit (the document matched on a tag).

    Computed here rather than with ts_headline, so that both databases give the same
    snippet and the hits found through a stem or without accents are marked too
    (ts_headline marks only what its own configuration's parser and stemmer see)."""
    wanted: set[str] = set()
    for unit in units:
        for w in unit.words:
            wanted.add(unaccented(w))
            wanted.update(stem(w, lang) for lang in LANGUAGES)

    def hit(token: str) -> bool:
        keys = _token_keys(token, language)
        return keys is not None and (keys[0] in wanted or keys[1] in wanted)

    for text in (title, summary):
        tokens = _TOKEN.findall(text)
        hits = [i for i, t in enumerate(tokens) if hit(t)]
        marked = set(hits)
        if not hits:
            continue
        start = max(0, hits[0] - SNIPPET_WORDS // 2)
        shown = tokens[start : start + SNIPPET_WORDS * 2]
        out = "…" if start > 0 else ""
        for offset, token in enumerate(shown):
            escaped = html.escape(token, quote=True)
            out += f"<mark>{escaped}</mark>" if (start + offset) in marked else escaped
        if start + len(shown) < len(tokens):
            out += "…"
        return out
    return None
