"""Full-text search of the library in Spanish, Portuguese, French, Italian and English
(SPEC §3 1.1: insensitive to case, accents and inflection together, in the document's
language). One table of queries, run as it stands on SQLite (FTS5) and on PostgreSQL
(tsvectors): the same queries find the same documents on both."""

from __future__ import annotations

from typing import Any

import html5lib
import pytest
from django.db import connection

from channels_app.documents.search import parse_query
from tests import factories
from tests.conftest import World, api_client

pytestmark = pytest.mark.django_db

CORPUS = {
    "es-informaciones": {
        "language": "es",
        "title": "Intercambio de informaciones financieras",
        "summary": "Cómo pedir datos bancarios a otra unidad de inteligencia.",
        "tags": ["lavado-de-dinero"],
    },
    "es-ninos": {
        "language": "es",
        "title": "Protección de niños en línea",
        "summary": "Explotación sexual infantil: cooperación con plataformas.",
        "tags": ["niños"],
    },
    "pt-corrupcao": {
        "language": "pt",
        "title": "Corrupção nas prisões",
        "summary": "Investigações de agentes penitenciários corrompidos.",
        "tags": ["corrupção", "prisão"],
    },
    "pt-informacao": {
        "language": "pt",
        "title": "A informação nas audiências",
        "summary": "Videoconferência entre tribunais.",
        "tags": [],
    },
    "fr-enquetes": {
        "language": "fr",
        "title": "Enquêtes sur les déchets médicaux",
        "summary": "Trafic transfrontalier pendant la pandémie.",
        "tags": ["déchets"],
    },
    "it-carceri": {
        "language": "it",
        "title": "Le carceri sovraffollate",
        "summary": "Indagini sulla radicalizzazione dei detenuti.",
        "tags": ["carcere"],
    },
    "en-prisons": {
        "language": "en",
        "title": "Prisons and the seizure of servers",
        "summary": "Investigations into ransomware gangs run from a cell.",
        "tags": ["ransomware"],
    },
}

# query → the documents it finds, the same on both databases.
QUERIES: list[tuple[str, set[str]]] = [
    # accents, both ways
    ("informacion", {"es-informaciones", "pt-informacao"}),
    ("información", {"es-informaciones", "pt-informacao"}),
    ("enquete", {"fr-enquetes"}),
    ("ENQUÊTES", {"fr-enquetes"}),
    ("corrupcao", {"pt-corrupcao"}),
    ("corrupção", {"pt-corrupcao"}),
    ("prisões", {"pt-corrupcao"}),
    ("prisoes", {"pt-corrupcao"}),
    ("prisao", {"pt-corrupcao"}),  # its tag
    ("ninos", {"es-ninos"}),
    ("dechets medicaux", {"fr-enquetes"}),
    # plurals and other inflections
    ("informaciones", {"es-informaciones", "pt-informacao"}),
    ("informações", {"es-informaciones", "pt-informacao"}),
    ("carcere", {"it-carceri"}),
    ("indagine", {"it-carceri"}),
    ("prison", {"en-prisons"}),
    # a stem shared across languages finds both: a cognate is the same subject
    ("investigation", {"en-prisons", "pt-corrupcao"}),
    ("investigações", {"en-prisons", "pt-corrupcao"}),
    ("enquête", {"fr-enquetes"}),
    # case
    ("PROTECCIÓN", {"es-ninos"}),
    ("Ransomware", {"en-prisons"}),
    # several words: every one must match
    ("informacion financiera", {"es-informaciones"}),
    ("corrupcao prisoes", {"pt-corrupcao"}),
    ("corrupcao ransomware", set()),
    # quoted phrases
    ('"seizure of servers"', {"en-prisons"}),
    ('"servers of seizure"', set()),
    ('"medical waste"', set()),
    ('"déchets médicaux"', {"fr-enquetes"}),
    # a tag
    ("lavado", {"es-informaciones"}),
    ("lavado-de-dinero", {"es-informaciones"}),
    # nothing
    ("ciberseguridad", set()),
    # the last word typed so far matches as a prefix
    ("radicaliz", {"it-carceri"}),
    ("videoconf", {"pt-informacao"}),
]

# Query text that is syntax to FTS5 or to_tsquery: never a 500, only words.
HOSTILE = [
    '"',
    '"""',
    'informacion"',
    '"informacion',
    "*",
    "info*",
    "NEAR(a b)",
    "informacion NEAR corrupcao",
    "-informacion",
    "informacion -corrupcao",
    "title:informacion",
    "plain : informacion",
    "a:*",
    "!informacion",
    "informacion & corrupcao | prisões",
    "(informacion",
    "informacion)",
    "'",
    "''informacion''",
    "^informacion",
    "{plain stems}: x",
    "AND",
    "OR OR",
    "NOT",
    "\\",
    "%",
    "_",
    "<->",
    "informacion <-> financieras",
    "a" * 200,
    " ".join(["informacion"] * 40),
    "😀",
    "\u202e",
]


@pytest.fixture
def library(world: World) -> dict[str, int]:
    return {
        name: factories.make_document(world.member, world.channel, **fields).pk
        for name, fields in CORPUS.items()
    }


def found(user: Any, query: str, path: str = "/api/v1/documents") -> set[int]:
    response = api_client(user).get(path, {"q": query, "limit": 200})
    assert response.status_code == 200, (query, response.content)
    return {d["id"] for d in response.json()}


def test_the_same_queries_find_the_same_documents_on_either_database(
    world: World, library: dict[str, int]
) -> None:
    wrong = {}
    for query, expected in QUERIES:
        hits = found(world.observer, query)
        by_name = {name for name, pk in library.items() if pk in hits}
        if by_name != expected:
            wrong[query] = (sorted(by_name), sorted(expected))
        assert found(world.observer, query, "/api/v1/channels/ops/documents") == hits, query
    assert wrong == {}, f"on {connection.vendor}"


@pytest.mark.parametrize("query", HOSTILE)
def test_a_hostile_query_is_read_as_words_and_never_answers_a_server_error(
    world: World, library: dict[str, int], query: str
) -> None:
    for path in ("/api/v1/documents", "/api/v1/channels/ops/documents"):
        response = api_client(world.member).get(path, {"q": query})
        assert response.status_code in (200, 400), (query, response.content)
        relevance = api_client(world.member).get(path, {"q": query, "order": "relevance"})
        assert relevance.status_code in (200, 400), (query, relevance.content)


def test_hostile_syntax_around_words_finds_what_the_words_find(
    world: World, library: dict[str, int]
) -> None:
    both = found(world.member, "informacion")
    assert found(world.member, '"informacion') == both  # an unbalanced quote
    assert found(world.member, "-informacion") == both
    assert found(world.member, "title:informacion") == found(world.member, "title informacion")
    assert found(world.member, "informacion*") == both


def test_parse_query_keeps_words_and_phrases_only() -> None:
    units = parse_query('seizure "of servers" NEAR(x) -y:*')
    assert [u.words for u in units] == [
        ("seizure",), ("of", "servers"), ("near",), ("x",), ("y",)
    ]  # fmt: skip
    unbalanced = parse_query('seizure "of servers" "')
    assert [u.words for u in unbalanced] == [("seizure",), ("of",), ("servers",)]


def test_the_best_match_comes_first_when_asked_for_relevance(world: World) -> None:
    weak = factories.make_document(
        world.member, world.channel, title="Annual report", summary="one line on prisons"
    )
    strong = factories.make_document(
        world.member, world.channel, title="Prisons", summary="prisons, prisons", tags=["prison"]
    )
    response = api_client(world.member).get(
        "/api/v1/documents", {"q": "prison", "order": "relevance"}
    )
    assert [d["id"] for d in response.json()] == [strong.pk, weak.pk]
    newest = api_client(world.member).get("/api/v1/documents", {"q": "prison"})
    assert [d["id"] for d in newest.json()] == [strong.pk, weak.pk]
    for refused, field in (({"order": "relevance"}, "order"), ({"before": "1"}, "before")):
        query = {"q": "prison", "order": "relevance", **refused}
        if field == "order":
            query.pop("q")
        answer = api_client(world.member).get("/api/v1/documents", query)
        assert answer.status_code == 400 and answer.json()["error"]["field"] == field


def test_the_snippet_marks_the_hits_and_holds_no_other_markup(world: World) -> None:
    factories.make_document(
        world.member,
        world.channel,
        title="<script>alert(1)</script> Enquêtes & <b>déchets</b>",
        summary='<img src=x onerror="alert(2)"> enquête',
        language="fr",
    )
    (item,) = api_client(world.member).get("/api/v1/documents", {"q": "enquete"}).json()
    snippet = item["snippet"]
    assert "<mark>Enquêtes</mark>" in snippet
    tree = html5lib.parseFragment(snippet, namespaceHTMLElements=False)
    assert {e.tag for e in tree.iter() if isinstance(e.tag, str)} - {"DOCUMENT_FRAGMENT"} == {
        "mark"
    }
    assert all(not e.attrib for e in tree.iter() if e.tag == "mark")
    without_q = api_client(world.member).get("/api/v1/documents").json()
    assert without_q[0]["snippet"] is None


def test_search_follows_every_change_and_forgets_a_withdrawn_document(world: World) -> None:
    document = factories.make_document(world.member, world.channel, title="Ciberdelito")
    client = api_client(world.member)
    assert found(world.member, "ciberdelito") == {document.pk}
    changed = client.patch(
        f"/api/v1/documents/{document.pk}",
        {"title": "Extradición", "tags": ["interpol"]},
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert found(world.member, "ciberdelito") == set()
    assert found(world.member, "extradicion") == {document.pk}
    assert found(world.member, "interpol") == {document.pk}
    client.patch(
        f"/api/v1/documents/{document.pk}",
        {"summary": "Órdenes europeas de detención"},
        content_type="application/json",
    )
    assert found(world.member, "ordenes detencion") == {document.pk}
    assert found(world.member, "interpol") == {document.pk}  # the tags kept
    assert client.delete(f"/api/v1/documents/{document.pk}").status_code == 200
    assert found(world.member, "extradicion") == set()


def test_search_never_crosses_into_a_channel_the_caller_may_not_read(world: World) -> None:
    other = factories.make_channel("elsewhere")
    factories.admit(other, world.outsider_institution, "participant")
    hidden = factories.make_document(world.outsider, other, title="Corrupção secreta")
    visible = factories.make_document(world.member, world.channel, title="Corrupção pública")
    assert found(world.member, "corrupcao") == {visible.pk}
    assert found(world.outsider, "corrupcao") == {hidden.pk}
    assert found(world.member, "secreta") == set()
