"""The document object of SPEC §3, built in one place for every route that returns one.

The shape is defined once, in channels_app.documents.schemas; authors, institutions and
evaluations appear as they do beside messages (channels_app.messages.payloads).
"""

from __future__ import annotations

from channels_app.documents.schemas import DocumentOut, LibraryItemOut
from channels_app.messages.payloads import (
    author_ref,
    evaluation_payload,
    institution_ref,
    iso_time,
)
from channels_app.models import Document

# Where document_selectors.with_document_related puts a document's tags and versions.
TAGS = "prefetched_tags"
VERSIONS = "prefetched_versions"


def document_payload(document: Document) -> DocumentOut:
    """Serialise one document. Expects what document_selectors.with_document_related loads."""
    return {
        "id": document.pk,
        "channel": document.channel.slug,
        "title": document.title,
        "summary": document.summary,
        "summary_html": document.summary_html,
        "tags": sorted(t.name for t in getattr(document, TAGS)),
        "language": document.language,
        "institution": institution_ref(document.institution),
        "handling_code": document.handling_code,
        "author": author_ref(document.author),
        "created_at": iso_time(document.created_at) or "",
        "updated_at": iso_time(document.updated_at) or "",
        "evaluation": evaluation_payload(document),
        "versions": [
            {
                "number": v.number,
                "attachment": {
                    "id": v.attachment.pk,
                    "size": v.attachment.size,
                    "sha256": v.attachment.sha256,
                    "epoch": v.attachment.epoch.number,
                },
                "author": author_ref(v.author),
                "note": v.note,
                "created_at": iso_time(v.created_at) or "",
            }
            for v in getattr(document, VERSIONS)
        ],
        "downloads": document.downloads,
        "message": document.message_id,
        "withdrawn_at": iso_time(document.withdrawn_at),
    }


def library_item_payload(document: Document, snippet: str | None = None) -> LibraryItemOut:
    """A document as a list shows it: the document object and its search snippet."""
    return {**document_payload(document), "snippet": snippet}
