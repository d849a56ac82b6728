"""Reads of the lessons-learned library: a channel's documents, one document, its
evaluation history, for a reader whose access the caller has checked (by id:
permissions.access.document_by_id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from channels_app.documents.fields import clean_language, clean_query, clean_tag
from channels_app.messages.selectors import MAX_PAGE
from channels_app.models import (
    Document,
    DocumentVersion,
    HandlingCode,
)
from exchange.kernel.errors import BadRequest
from permissions.access import ChannelAccess, readable_since


@dataclass(frozen=True)
class DocumentFilters:
    """What a list of documents is narrowed to; None: not filtered on that."""

    q: str | None = None
    tag: str | None = None
    language: str | None = None
    institution: str | None = None
    handling_code: str | None = None

    def cleaned(self) -> DocumentFilters:
        """The same filters, checked: a bad value is a 400 naming the filter."""
        if self.institution is not None and (
            not self.institution or "\x00" in self.institution or len(self.institution) > 64
        ):
            raise BadRequest("institution is an institution's slug.", field="institution")
        if self.handling_code is not None and self.handling_code not in HandlingCode.values:
            raise BadRequest(
                f"handling_code is one of {', '.join(HandlingCode.values)}.",
                field="handling_code",
            )
        return DocumentFilters(
            q=None if self.q is None else clean_query(self.q),
            tag=None if self.tag is None else clean_tag(self.tag, field="tag"),
            language=None if self.language is None else clean_language(self.language),
            institution=self.institution,
            handling_code=self.handling_code,
        )


def with_document_related(documents: QuerySet[Document] | Any) -> QuerySet[Document]:
    """Everything document_payload reads, in a constant number of queries."""
    return documents.select_related(
        "channel", "institution", "author", "author__institution"
    ).prefetch_related(
        "tags",
        Prefetch(
            "versions",
            queryset=DocumentVersion.objects.select_related(
                "attachment", "attachment__epoch", "author", "author__institution"
            ).order_by("number"),
        ),
    )


def documents_for(access: ChannelAccess) -> QuerySet[Document]:
    """The channel's documents this reader may see: in a since_join channel, those added
    since their institution was admitted (moderators see all), as for messages."""
    documents = Document.objects.filter(channel=access.channel)
    joined = readable_since(access)
    if joined is not None:
        documents = documents.filter(created_at__gte=joined)
    return documents


def document_list(
    access: ChannelAccess,
    filters: DocumentFilters,
    *,
    before: int | None = None,
    limit: int = 50,
) -> list[Document]:
    """Newest first, at most `limit`, older than document `before` if given."""
    limit = max(1, min(limit, MAX_PAGE))
    filters = filters.cleaned()
    documents = documents_for(access)
    if before is not None:
        documents = documents.filter(id__lt=before)
    if filters.q is not None:
        documents = documents.filter(
            Q(title__icontains=filters.q) | Q(summary__icontains=filters.q)
        )
    if filters.tag is not None:
        documents = documents.filter(tags__name=filters.tag)
    if filters.language is not None:
        documents = documents.filter(language=filters.language)
    if filters.institution is not None:
        documents = documents.filter(institution__slug=filters.institution)
    if filters.handling_code is not None:
        documents = documents.filter(handling_code=filters.handling_code)
    return list(with_document_related(documents).order_by("-id")[:limit])


def document_get(document_id: int) -> Document:
    """One document with everything its payload shows (the caller checked access)."""
    return with_document_related(Document.objects).get(pk=document_id)
