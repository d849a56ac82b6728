"""API routes of the lessons-learned library (SPEC §3: documents and their versions).

Each route parses its input, calls one service or selector, and shapes the answer; the
rules (who may, what is valid) live in document_services, document_selectors and
permissions.access.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from channels_app.documents import selectors as document_selectors
from channels_app.documents import services as document_services
from channels_app.documents.fields import MAX_QUERY
from channels_app.documents.payloads import document_payload
from channels_app.documents.schemas import DocumentDraft, DocumentEdit, DocumentOut, VersionDraft
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
        default=None, max_length=MAX_QUERY, description="Text in the title or the summary"
    )
    tag: str | None = None
    language: str | None = None
    institution: str | None = Field(default=None, description="An institution's slug")
    handling_code: str | None = None
    before: int | None = Field(default=None, ge=1, description="A document id: older ones")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)


@router.get(
    "/channels/{slug}/documents",
    response=list[DocumentOut],
    summary="The channel's documents, newest first, filtered",
)
def document_list(
    request: HttpRequest, slug: str, filters: Query[DocumentQuery]
) -> list[DocumentOut]:
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
    return [document_payload(d) for d in documents]


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
    summary="The author changes the title, summary, tags or evaluation (null withdraws it)",
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
