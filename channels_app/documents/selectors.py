"""Reads of the lessons-learned library: a channel's documents, one document, its
evaluation history, for a reader whose access the caller has checked (by id:
permissions.access.document_by_id)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Final

from django.db import connection
from django.db.models import BooleanField, FloatField, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL

from channels_app.documents.fields import clean_language, clean_query, clean_tag
from channels_app.documents.payloads import TAGS, VERSIONS
from channels_app.documents.search import (
    FTS_TABLE,
    fts5_expression,
    parse_query,
    pg_match,
    pg_rank,
    snippet,
)
from channels_app.messages.selectors import MAX_PAGE
from channels_app.models import (
    Document,
    DocumentTag,
    DocumentVersion,
    HandlingCode,
    Theme,
)
from exchange.kernel.errors import BadRequest
from permissions.access import ChannelAccess, readable_channels, readable_since
from permissions.models import User

EVALUATION_FILTER: Final = re.compile(r"^[ABCX][1-4]?$")


@dataclass(frozen=True)
class DocumentFilters:
    """What a list of documents is narrowed to; None: not filtered on that. `channel`,
    `theme` and `evaluation` narrow the library across channels (GET /documents)."""

    q: str | None = None
    tag: str | None = None
    language: str | None = None
    institution: str | None = None
    handling_code: str | None = None
    channel: str | None = None
    theme: str | None = None
    evaluation: str | None = None

    def cleaned(self) -> DocumentFilters:
        """The same filters, checked: a bad value is a 400 naming the filter."""
        for name in ("institution", "channel"):
            value = getattr(self, name)
            if value is not None and (not value or "\x00" in value or len(value) > 64):
                raise BadRequest(f"{name} is a slug.", field=name)
        if self.handling_code is not None and self.handling_code not in HandlingCode.values:
            raise BadRequest(
                f"handling_code is one of {', '.join(HandlingCode.values)}.",
                field="handling_code",
            )
        if self.theme is not None and self.theme not in Theme.values:
            raise BadRequest(f"theme is one of {', '.join(Theme.values)}.", field="theme")
        if self.evaluation is not None and not EVALUATION_FILTER.match(self.evaluation):
            raise BadRequest(
                "evaluation is a source reliability (A, B, C or X), alone or followed by "
                "an information assessment (1 to 4): 'A', 'B2'.",
                field="evaluation",
            )
        return DocumentFilters(
            q=None if self.q is None else clean_query(self.q),
            tag=None if self.tag is None else clean_tag(self.tag, field="tag"),
            language=None if self.language is None else clean_language(self.language),
            institution=self.institution,
            handling_code=self.handling_code,
            channel=self.channel,
            theme=self.theme,
            evaluation=self.evaluation,
        )


class Order(enum.Enum):
    """How the library is sorted: newest first (by id), most downloaded first (ties by
    id, newest first), or with `q` the best match first (ts_rank_cd on PostgreSQL, bm25
    on SQLite; ties newest first)."""

    NEWEST = "newest"
    DOWNLOADS = "downloads"
    RELEVANCE = "relevance"


@dataclass(frozen=True)
class Found:
    """A document of a list, and with `q` the snippet of its hits (search.snippet)."""

    document: Document
    snippet: str | None = None


def _searched(documents: QuerySet[Document], q: str) -> QuerySet[Document]:
    """`documents` that match the query `q` (search.py: its words and quoted phrases,
    never its syntax), on whichever database this is. The raw SQL (S611) is built from
    constants; what the user typed reaches it only as parameters."""
    units = parse_query(q)
    if not units:
        return documents.none()
    table = connection.ops.quote_name(Document._meta.db_table)
    if connection.vendor == "postgresql":
        sql, params = pg_match(units, table)
        return documents.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611
    matches = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
    return documents.filter(pk__in=RawSQL(matches, [fts5_expression(units)]))  # noqa: S611


def _fts5_ranked_ids(documents: QuerySet[Document], q: str, limit: int) -> list[int]:
    """The ids of the best `limit` matches among `documents` (already searched), best
    first (bm25, ties newest first). FTS5 ranks only inside its own MATCH, and SQLite
    plans `MATCH … AND rowid IN (subquery)` row by row, so the two sets (every match,
    ranked; the reader's matching documents) are read apart, as ids, and intersected
    here: two statements whatever the size."""
    units = parse_query(q)
    if not units:
        return []
    visible = set(documents.values_list("id", flat=True))
    ranked = (
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
        f" ORDER BY bm25({FTS_TABLE}), rowid DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(ranked, [fts5_expression(units)])
        best = []
        for (rowid,) in cursor.fetchall():
            if rowid in visible:
                best.append(rowid)
                if len(best) == limit:
                    break
        return best


def _by_relevance(documents: QuerySet[Document], q: str) -> QuerySet[Document]:
    """PostgreSQL: best match first by ts_rank_cd of the plain vector, ties newest first."""
    units = parse_query(q)
    table = connection.ops.quote_name(Document._meta.db_table)
    sql, params = pg_rank(units, table)
    rank = RawSQL(sql, params, output_field=FloatField())  # noqa: S611
    return documents.annotate(_rank=rank).order_by("-_rank", "-id")


def _found(documents: list[Document], q: str | None) -> list[Found]:
    if q is None:
        return [Found(d) for d in documents]
    units = parse_query(q)
    return [Found(d, snippet(units, d.title, d.summary, d.language)) for d in documents]


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last item's id and, for Order.DOWNLOADS, its count as it was
    served, so the next page starts exactly after it even if its count moved since."""

    id: int
    downloads: int | None = None

    @classmethod
    def parse(cls, value: str, order: Order) -> Cursor:
        """`before` as the API takes it: a document id for `newest`, `<downloads>:<id>` of
        the last item for `downloads`. Anything else is a 400 on `before`."""
        if order is Order.NEWEST:
            if value.isascii() and value.isdigit() and 0 < int(value) < 2**63:
                return cls(id=int(value))
            raise BadRequest("before is a document id.", field="before")
        count, colon, ident = value.partition(":")
        if (
            colon
            and count.isascii()
            and count.isdigit()
            and ident.isascii()
            and ident.isdigit()
            and int(count) < 2**31
            and 0 < int(ident) < 2**63
        ):
            return cls(id=int(ident), downloads=int(count))
        raise BadRequest(
            "With order=downloads, before is '<downloads>:<id>' of the last item.",
            field="before",
        )


def with_document_related(documents: QuerySet[Document] | Any) -> QuerySet[Document]:
    """Everything document_payload reads, in a constant number of queries. Tags and
    versions land in plain lists (`to_attr`): Django builds a queryset per document for
    a prefetch without one, a third of a page's time."""
    return documents.select_related(
        "channel", "institution", "author", "author__institution"
    ).prefetch_related(
        Prefetch("tags", queryset=DocumentTag.objects.order_by("name"), to_attr=TAGS),
        Prefetch(
            "versions",
            queryset=DocumentVersion.objects.select_related(
                "attachment", "attachment__epoch", "author", "author__institution"
            ).order_by("number"),
            to_attr=VERSIONS,
        ),
    )


def documents_for(access: ChannelAccess) -> QuerySet[Document]:
    """The channel's documents this reader may see: in a since_join channel, those added
    since their institution was admitted (moderators see all), as for messages. Not the
    withdrawn ones: lists omit them (by id they answer, through document_by_id)."""
    documents = Document.objects.filter(channel=access.channel, withdrawn_at__isnull=True)
    joined = readable_since(access)
    if joined is not None:
        documents = documents.filter(created_at__gte=joined)
    return documents


def _filtered(documents: QuerySet[Document], filters: DocumentFilters) -> QuerySet[Document]:
    """`documents` narrowed by every filter but `q` (the search is the caller's)."""
    if filters.tag is not None:
        documents = documents.filter(tags__name=filters.tag)
    if filters.language is not None:
        documents = documents.filter(language=filters.language)
    if filters.institution is not None:
        documents = documents.filter(institution__slug=filters.institution)
    if filters.handling_code is not None:
        documents = documents.filter(handling_code=filters.handling_code)
    if filters.evaluation is not None:
        documents = documents.filter(source_reliability=filters.evaluation[0])
        if len(filters.evaluation) == 2:
            documents = documents.filter(information_assessment=int(filters.evaluation[1]))
    return documents


def document_list(
    access: ChannelAccess,
    filters: DocumentFilters,
    *,
    before: int | None = None,
    limit: int = 50,
) -> list[Found]:
    """Newest first, at most `limit`, older than document `before` if given; `q` searches
    (search.py) and adds each item's snippet."""
    limit = max(1, min(limit, MAX_PAGE))
    filters = filters.cleaned()
    documents = _filtered(documents_for(access), filters)
    if before is not None:
        documents = documents.filter(id__lt=before)
    if filters.q is not None:
        documents = _searched(documents, filters.q)
    return _found(list(with_document_related(documents).order_by("-id")[:limit]), filters.q)


def library_documents(user: User, filters: DocumentFilters) -> QuerySet[Document]:
    """Every document `user` may read now, across channels, not withdrawn, narrowed by
    `filters` (cleaned) but `q`: the channels and the `since_join` dates come from
    permissions.access.readable_channels, the one rule, in one query; a `channel` or
    `theme` the user may not read narrows to nothing, as an unknown one does."""
    readable = [
        r
        for r in readable_channels(user)
        if (filters.channel is None or r.access.channel.slug == filters.channel)
        and (filters.theme is None or r.access.channel.theme == filters.theme)
    ]
    whole = [r.access.channel.pk for r in readable if r.since is None]
    visible = Q(channel_id__in=whole)
    for r in readable:
        if r.since is not None:
            visible |= Q(channel_id=r.access.channel.pk, created_at__gte=r.since)
    if not readable:
        return Document.objects.none()
    return _filtered(Document.objects.filter(visible, withdrawn_at__isnull=True), filters)


def library_list(
    user: User,
    filters: DocumentFilters,
    *,
    order: Order = Order.NEWEST,
    before: str | None = None,
    limit: int = 50,
) -> list[Found]:
    """GET /documents: at most `limit` documents `user` may read, in `order`, after the
    cursor `before` (Cursor.parse). A constant number of queries whatever the size: the
    readable channels, the page, its tags and its versions."""
    limit = max(1, min(limit, MAX_PAGE))
    filters = filters.cleaned()
    if order is Order.RELEVANCE and filters.q is None:
        raise BadRequest("order=relevance needs q.", field="order")
    if order is Order.RELEVANCE and before is not None:
        raise BadRequest(
            "order=relevance answers one page (limit up to 200): no before.", field="before"
        )
    cursor = None if before is None else Cursor.parse(before, order)
    documents = library_documents(user, filters)
    if filters.q is not None:
        documents = _searched(documents, filters.q)
    if order is Order.RELEVANCE and connection.vendor != "postgresql":
        assert filters.q is not None  # noqa: S101  (checked above)
        ids = _fts5_ranked_ids(documents, filters.q, limit)
        page = {d.pk: d for d in with_document_related(Document.objects.filter(pk__in=ids))}
        return _found([page[i] for i in ids if i in page], filters.q)
    if order is Order.RELEVANCE:
        assert filters.q is not None  # noqa: S101  (checked above)
        documents = _by_relevance(documents, filters.q)
    elif order is Order.DOWNLOADS:
        if cursor is not None:
            documents = documents.filter(
                Q(downloads__lt=cursor.downloads) | Q(downloads=cursor.downloads, id__lt=cursor.id)
            )
        documents = documents.order_by("-downloads", "-id")
    else:
        if cursor is not None:
            documents = documents.filter(id__lt=cursor.id)
        documents = documents.order_by("-id")
    return _found(list(with_document_related(documents)[:limit]), filters.q)


def document_get(document_id: int) -> Document:
    """One document with everything its payload shows (the caller checked access)."""
    return with_document_related(Document.objects).get(pk=document_id)
