"""The library at scale: 100,000 documents over 200 channels in five languages, searched
and listed by a member of 20 channels (issue 12: p95 under 100 ms on PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/exchange_bench_lib \\
        python -m bench.library_search [--documents 100000] [--runs 200]

Runs on whichever database DATABASE_URL names (default: the embedded SQLite file), after
migrating it. Seeding uses bulk_create and the search module's bulk indexer, once: a
database already holding the bench's documents is reused (another size: use a fresh
one). Times are the selector and the serialisation of each answer, in process (what
GET /documents runs between parsing its query and writing JSON), with the default page
of 50.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import django

PREFIX = "bench-lib-"
CHANNELS = 200
MEMBER_OF = 20
BATCH = 2000


def _words(text: str) -> list[str]:
    return text.split()


VOCABULARY: dict[str, list[str]] = {
    "es": _words(
        "información informaciones investigación corrupción cárcel cárceles prisión delito "
        "delitos blanqueo dinero cooperación policial judicial niños protección fiscalía "
        "extradición tráfico residuos médicos pandemia ciberdelito víctimas órdenes detención "
        "pruebas electrónicas servidores incautación unidad análisis"
    ),
    "pt": _words(
        "informação informações investigação corrupção prisão prisões crime crimes lavagem "
        "dinheiro cooperação policial judicial crianças proteção ministério extradição "
        "tráfico resíduos médicos pandemia cibercrime vítimas mandados detenção provas "
        "eletrônicas servidores apreensão unidade análise"
    ),
    "fr": _words(
        "enquête enquêtes information corruption prison prisons délit délits blanchiment "
        "argent coopération policière judiciaire enfants protection parquet extradition "
        "trafic déchets médicaux pandémie cybercriminalité victimes mandats détention preuves "
        "électroniques serveurs saisie unité analyse"
    ),
    "it": _words(
        "indagine indagini informazione corruzione carcere carceri reato reati riciclaggio "
        "denaro cooperazione polizia giudiziaria bambini protezione procura estradizione "
        "traffico rifiuti sanitari pandemia criminalità vittime mandati detenzione prove "
        "elettroniche server sequestro unità analisi"
    ),
    "en": _words(
        "investigation investigations information corruption prison prisons offence offences "
        "laundering money cooperation police judicial children protection prosecution "
        "extradition trafficking waste medical pandemic cybercrime victims warrants detention "
        "evidence electronic servers seizure unit analysis"
    ),
}
QUERIES = [
    "informacion",
    "informaciones",
    "corrupcao",
    "corrupção",
    "prisoes",
    "enquete",
    "dechets medicaux",
    "carceri",
    "indagine",
    "prisons",
    "money laundering",
    '"extradición tráfico"',
    "ciberdelito victimas",
    "servidores",
    "analys",
]


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings")
    os.environ.setdefault("EXCHANGE_DEBUG", "1")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def seed(total: int, *, rng: random.Random) -> None:
    """Institutions, users, 200 channels (an epoch each), `total` documents with a
    version and two tags each, their search terms and some downloads."""
    from django.db import transaction

    from channels_app.documents.search import Indexed, index_documents
    from channels_app.models import (
        Attachment,
        Channel,
        Document,
        DocumentTag,
        DocumentVersion,
        Epoch,
    )
    from permissions.institutions.registry import institution_upsert
    from permissions.membership.services import admission_set
    from permissions.people.services import user_upsert

    languages = list(VOCABULARY)
    authors_inst = [
        institution_upsert(slug=f"{PREFIX}inst-{i}", name=f"Bench {i}", country="ES", kind="police")
        for i in range(2)
    ]
    authors = [
        user_upsert(username=f"{PREFIX}author-{i}", institution=inst, display_name="Author")
        for i, inst in enumerate(authors_inst)
    ]
    reader_inst = institution_upsert(
        slug=f"{PREFIX}readers", name="Bench readers", country="PT", kind="police"
    )
    user_upsert(username=f"{PREFIX}reader", institution=reader_inst, display_name="Reader")
    themes = ["cybercrime", "penitentiary", "corruption", "medical_waste", "general"]
    channels = Channel.objects.bulk_create(
        Channel(slug=f"{PREFIX}{i}", title=f"Bench {i}", theme=themes[i % 5])
        for i in range(CHANNELS)
    )
    epochs = Epoch.objects.bulk_create(Epoch(channel=c, number=1, public_key="x") for c in channels)
    for i, channel in enumerate(channels):
        for inst in authors_inst:
            admission_set(actor=None, channel=channel, institution=inst, role="participant")
        if i % (CHANNELS // MEMBER_OF) == 0:
            admission_set(actor=None, channel=channel, institution=reader_inst, role="participant")

    def words(language: str, n: int) -> str:
        return " ".join(rng.choice(VOCABULARY[language]) for _ in range(n))

    done = 0
    while done < total:
        size = min(BATCH, total - done)
        with transaction.atomic():
            rows = []
            for k in range(size):
                at = rng.randrange(CHANNELS)
                author = authors[(done + k) % len(authors)]
                language = languages[(done + k) % len(languages)]
                rows.append((channels[at], epochs[at], author, language))
            documents = Document.objects.bulk_create(
                Document(
                    channel=channel,
                    title=words(language, rng.randint(3, 7)).capitalize(),
                    summary=words(language, rng.randint(20, 60)),
                    summary_html="",
                    language=language,
                    institution_id=author.institution_id,
                    author=author,
                    downloads=rng.choice([0, 0, 0, 1, 2, 3, 5, 8, 13, 40]),
                    source_reliability=rng.choice(["", "A", "B"]),
                    information_assessment=None,
                )
                for channel, _, author, language in rows
            )
            for d in documents:
                if d.source_reliability:
                    d.information_assessment = rng.randint(1, 4)
            Document.objects.bulk_update(
                [d for d in documents if d.source_reliability], ["information_assessment"]
            )
            attachments = Attachment.objects.bulk_create(
                Attachment(
                    channel=channel,
                    epoch=epoch,
                    uploader=author,
                    storage_name=f"bench/{done + k}.age",
                    size=1000,
                    sha256="0" * 64,
                    meta=b"",
                )
                for k, (channel, epoch, author, _) in enumerate(rows)
            )
            DocumentVersion.objects.bulk_create(
                DocumentVersion(document=d, number=1, attachment=a, author=d.author)
                for d, a in zip(documents, attachments, strict=True)
            )
            tags = {
                d.pk: sorted({rng.choice(VOCABULARY[d.language]) for _ in range(2)})
                for d in documents
            }
            DocumentTag.objects.bulk_create(
                DocumentTag(document=d, name=t) for d in documents for t in tags[d.pk]
            )
            index_documents(
                [Indexed(d.pk, d.title, d.summary, tags[d.pk], d.language) for d in documents]
            )
        done += size
        print(f"  seeded {done:,} documents", flush=True)


def measure(label: str, runs: int, call: Callable[[int], Any]) -> None:
    """Median and p95 of the whole call and, beside them, of its time in the database
    (the queries' own durations): on a machine shared with other work the first moves
    with the load, the second much less."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    times, in_db = [], []
    for i in range(runs):
        reset_queries()  # DEBUG keeps the last 9,000 queries; a full log slices empty
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - start) * 1000)
        in_db.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    print(
        f"{label:<40} median {statistics.median(times):6.1f} ms  p95 {p95(times):6.1f} ms"
        f"  | database: median {statistics.median(in_db):6.1f} ms  p95 {p95(in_db):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    setup()

    from django.db import connection

    from channels_app.documents.payloads import library_item_payload
    from channels_app.documents.selectors import DocumentFilters, Order, library_list
    from channels_app.models import Document
    from permissions.models import User

    seeded = Document.objects.filter(channel__slug__startswith=PREFIX).count()
    if seeded not in (0, args.documents):
        raise SystemExit(
            f"This database holds {seeded:,} bench documents, not {args.documents:,}: "
            "point DATABASE_URL at a fresh database."
        )
    if not seeded:
        print(f"seeding {args.documents:,} documents, {CHANNELS} channels, {connection.vendor}")
        start = time.perf_counter()
        seed(args.documents, rng=random.Random(12))
        print(f"  in {time.perf_counter() - start:.0f} s")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    reader = User.objects.select_related("institution").get(username=f"{PREFIX}reader")
    rng = random.Random(7)

    def run(filters: DocumentFilters, order: Order = Order.NEWEST) -> Callable[[int], Any]:
        def call(_: int) -> Any:
            return [
                library_item_payload(f.document, f.snippet)
                for f in library_list(reader, filters, order=order)
            ]

        return call

    def search(order: Order) -> Callable[[int], Any]:
        def call(i: int) -> Any:
            return run(DocumentFilters(q=QUERIES[i % len(QUERIES)]), order)(i)

        return call

    def filtered(i: int) -> Any:
        language = list(VOCABULARY)[i % 5]
        return run(
            DocumentFilters(language=language, evaluation="B", tag=rng.choice(VOCABULARY[language]))
        )(i)

    visible = len(run(DocumentFilters())(0))
    print(
        f"{connection.vendor}: the reader reads {MEMBER_OF} of {CHANNELS} channels; page {visible}"
    )
    measure("search q (newest first)", args.runs, search(Order.NEWEST))
    measure("search q (relevance)", args.runs, search(Order.RELEVANCE))
    measure("list, newest", args.runs, run(DocumentFilters()))
    measure("list, language+evaluation+tag filters", args.runs, filtered)
    measure("list, most downloaded", args.runs, run(DocumentFilters(), Order.DOWNLOADS))


if __name__ == "__main__":
    main()
