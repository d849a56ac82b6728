"""API routes of the lessons-learned library (SPEC §3: documents and their versions).

Each route parses its input, calls one service or selector, and shapes the answer; the
rules (who may, what is valid) live in document_services, document_selectors and
permissions.access.
"""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from channels_app.documents import selectors as document_selectors
from channels_app.documents import services as document_services
from channels_app.documents.fields import MAX_QUERY
from channels_app.documents.payloads import document_payload, library_item_payload
from channels_app.documents.schemas import (
    DocumentDraft,
    DocumentEdit,
    DocumentOut,
    LibraryItemOut,
    VersionDraft,
)
from channels_app.evaluations.schemas import evaluation_value
from channels_app.evaluations.selectors import evaluation_history
from channels_app.messages.payloads import evaluation_change_payload
from channels_app.messages.schemas import EvaluationChangeOut
from channels_app.messages.selectors import MAX_PAGE
from permissions.access import Need, access_channel, document_by_id
from permissions.people.api import request_user

router = Router(tags=["documents"])


class DocumentQuery(Schema):
    q: str | None = Field(
        default=None,
        max_length=MAX_QUERY,
        description="Full-text search of the title, summary and tags: words and "
        '"quoted phrases", insensitive to case, accents and inflection in the '
        "document's language (es, pt, fr, it, en); the last word also matches as a prefix",
    )
    tag: str | None = None
    language: str | None = None
    institution: str | None = Field(default=None, description="An institution's slug")
    handling_code: str | None = None
    before: int | None = Field(default=None, ge=1, description="A document id: older ones")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)


class LibraryQuery(Schema):
    q: str | None = Field(
        default=None,
        max_length=MAX_QUERY,
        description="Full-text search, as on a channel's list of documents",
    )
    channel: str | None = Field(default=None, description="A channel's slug")
    theme: str | None = Field(default=None, description="The channels' theme")
    tag: str | None = None
    language: str | None = None
    institution: str | None = Field(default=None, description="An institution's slug")
    handling_code: str | None = None
    evaluation: str | None = Field(
        default=None, description="'B2' for exactly B2; 'A' for any evaluation of source A"
    )
    order: Literal["newest", "downloads", "relevance"] = Field(
        default="newest",
        description="newest: by id, newest first; downloads: most distinct downloading "
        "users first, ties newest first; relevance (with q, one page: no before): the "
        "best match first",
    )
    before: str | None = Field(
        default=None,
        max_length=40,
        description="The cursor: with order=newest the last item's id; with "
        "order=downloads '<downloads>:<id>' of the last item, as it was served (a page "
        "starts right after it even if its count has moved since)",
    )
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)


@router.get(
    "/documents",
    response=list[LibraryItemOut],
    summary="The library across every channel the caller may read, filtered and ordered",
    description="Only documents the caller may read now (their channels, since their "
    "institution joined a since_join channel), never a withdrawn one.",
)
def library_list(request: HttpRequest, filters: Query[LibraryQuery]) -> list[LibraryItemOut]:
    documents = document_selectors.library_list(
        request_user(request),
        document_selectors.DocumentFilters(
            q=filters.q,
            channel=filters.channel,
            theme=filters.theme,
            tag=filters.tag,
            language=filters.language,
            institution=filters.institution,
            handling_code=filters.handling_code,
            evaluation=filters.evaluation,
        ),
        order=document_selectors.Order(filters.order),
        before=filters.before,
        limit=filters.limit,
    )
    return [library_item_payload(f.document, f.snippet) for f in documents]


@router.get(
    "/channels/{slug}/documents",
    response=list[LibraryItemOut],
    summary="The channel's documents, newest first, filtered (withdrawn ones omitted)",
)
def document_list(
    request: HttpRequest, slug: str, filters: Query[DocumentQuery]
) -> list[LibraryItemOut]:
    access = access_channel(request_user(request), slug, Need.READ)
    documents = document_selectors.document_list(
        access,
        document_selectors.DocumentFilters(
            q=filters.q,
            tag=filters.tag,
            language=filters.language,
            institution=filters.institution,
            handling_code=filters.handling_code,
        ),
        before=filters.before,
        limit=filters.limit,
    )
    return [library_item_payload(f.document, f.snippet) for f in documents]


@router.post(
    "/channels/{slug}/documents",
    response={201: DocumentOut},
    summary="Add a document with its first version (an attachment uploaded beforehand)",
)
def document_create(request: HttpRequest, slug: str, payload: DocumentDraft) -> Status[DocumentOut]:
    document = document_services.document_add(
        actor=request_user(request),
        channel_slug=slug,
        title=payload.title,
        summary=payload.summary,
        tags=payload.tags,
        language=payload.language,
        handling_code=payload.handling_code,
        attachment=payload.attachment,
        note=payload.note,
        evaluation=evaluation_value(payload.evaluation),
    )
    return Status(201, document_payload(document))


@router.get("/documents/{document_id}", response=DocumentOut, summary="One document")
def document_detail(request: HttpRequest, document_id: int) -> DocumentOut:
    document, _ = document_by_id(request_user(request), document_id)
    return document_payload(document_selectors.document_get(document.pk))


@router.patch(
    "/documents/{document_id}",
    response=DocumentOut,
    summary="Change the title, summary or tags (the author, a user of its institution or a "
    "moderator) or the evaluation (the author; null withdraws it)",
)
def document_update(request: HttpRequest, document_id: int, payload: DocumentEdit) -> DocumentOut:
    document = document_services.document_change(
        actor=request_user(request),
        document_id=document_id,
        title=payload.title,
        summary=payload.summary,
        tags=payload.tags,
        evaluation=payload.evaluation_change(),
    )
    return document_payload(document)


@router.delete(
    "/documents/{document_id}",
    response=DocumentOut,
    summary="Withdraw a document: a tombstone (the author, its institution or a moderator)",
)
def document_withdraw(request: HttpRequest, document_id: int) -> DocumentOut:
    document = document_services.document_withdraw(
        actor=request_user(request), document_id=document_id
    )
    return document_payload(document)


@router.post(
    "/documents/{document_id}/versions",
    response={201: DocumentOut},
    summary="Add a version: an attachment uploaded beforehand to the same channel",
)
def version_create(
    request: HttpRequest, document_id: int, payload: VersionDraft
) -> Status[DocumentOut]:
    document = document_services.document_version_add(
        actor=request_user(request),
        document_id=document_id,
        attachment=payload.attachment,
        note=payload.note,
    )
    return Status(201, document_payload(document))


@router.get(
    "/documents/{document_id}/evaluations",
    response=list[EvaluationChangeOut],
    summary="Every setting of a document's evaluation, oldest first",
)
def document_evaluation_list(request: HttpRequest, document_id: int) -> list[EvaluationChangeOut]:
    document, _ = document_by_id(request_user(request), document_id)
    changes = evaluation_history(document_id=document.pk)
    return [evaluation_change_payload(c) for c in changes]
