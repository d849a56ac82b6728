"""Writes of the lessons-learned library: adding a document, a version, changing one.

A document's content is its versions: attachments uploaded beforehand with
POST /channels/{slug}/attachments, end-to-end encrypted (the server never sees the
plaintext). Its title, summary and tags are metadata the server reads, to list and
search. Every service checks the caller through permissions.access, validates, writes
in one transaction with its audit event (ids, numbers, the handling code and the
language only: never the title or the summary). No broadcast: documents have no
WebSocket frames yet.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.chain import record
from channels_app.attachments.services import attachment_for_version
from channels_app.documents.fields import (
    clean_language,
    clean_note,
    clean_summary,
    clean_tags,
    clean_title,
)
from channels_app.documents.search import index_document, unindex_document
from channels_app.documents.selectors import document_get
from channels_app.evaluations.pair import (
    KEEP,
    Evaluation,
    Keep,
    clean_evaluation,
    stored,
)
from channels_app.evaluations.services import evaluation_change, evaluation_record
from channels_app.messages.markdown import render_markdown
from channels_app.messages.services import clean_handling_code, message_send
from channels_app.models import (
    Document,
    DocumentTag,
    DocumentVersion,
)
from exchange.kernel.errors import BadRequest, Conflict, Forbidden
from permissions.access import (
    ChannelAccess,
    Need,
    access_channel,
    document_by_id,
    may_change_document,
    require,
)
from permissions.models import User


def document_add(
    *,
    actor: User,
    channel_slug: str,
    title: str,
    language: str,
    attachment: int,
    summary: str = "",
    tags: list[str] | None = None,
    handling_code: str | None = None,
    note: str = "",
    evaluation: Evaluation | None = None,
) -> Document:
    """Add a document with its version 1, on behalf of the actor's institution;
    participants (and moderators) of the channel only. All or nothing."""
    channel = access_channel(actor, channel_slug, Need.POST).channel
    title = clean_title(title)
    summary = clean_summary(summary)
    tag_names = clean_tags(tags or [])
    language = clean_language(language)
    code = clean_handling_code(channel, handling_code)
    note = clean_note(note)
    evaluation = clean_evaluation(evaluation)
    if channel.archived:
        raise Conflict("This channel is archived and accepts no new documents.")
    if actor.institution_id is None:
        # A document is an institution's (its participants add versions): a moderator
        # without one cannot add one.
        raise Forbidden("Documents are added on behalf of an institution; you have none.")
    with transaction.atomic():
        carried = attachment_for_version(
            actor=actor, channel_id=channel.pk, attachment_id=attachment
        )
        document = Document.objects.create(
            channel=channel,
            title=title,
            summary=summary,
            summary_html=render_markdown(summary),
            language=language,
            institution_id=actor.institution_id,
            handling_code=code,
            author=actor,
            **stored(evaluation),
        )
        DocumentTag.objects.bulk_create(DocumentTag(document=document, name=t) for t in tag_names)
        DocumentVersion.objects.create(
            document=document, number=1, attachment=carried, author=actor, note=note
        )
        index_document(
            document_id=document.pk,
            title=title,
            summary=summary,
            tags=tag_names,
            language=language,
        )
        if evaluation is not None:
            evaluation_record(carrier=document, actor=actor, value=evaluation)
        announced, _ = message_send(
            actor=actor,
            channel_slug=channel.slug,
            client_id=uuid.uuid4(),
            body=announcement(channel.slug, document.pk, title),
            handling_code=code,
        )
        Document.objects.filter(pk=document.pk).update(message=announced)
        record(
            action="document.added",
            actor=actor,
            channel=channel,
            target=f"document:{document.pk}",
            data={
                "version": 1,
                "attachment_id": carried.pk,
                "institution_id": actor.institution_id,
                "handling_code": code,
                "language": language,
            },
        )
    return document_get(document.pk)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def announcement(channel_slug: str, document_id: int, title: str) -> str:
    """The body of the message that announces a new document in its channel: a Markdown
    link to the document's page (`/c/<slug>/library/<id>/`, the library's page route),
    the title escaped so that it is shown as typed and can make no link, image or
    markup of its own."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", title)
    return f"Document added: [{escaped}](/c/{channel_slug}/library/{document_id}/)"


def _require_change(access: ChannelAccess, document: Document, what: str) -> None:
    """The one rule for versions, edits and withdrawals (access.may_change_document); the
    403 names what was refused. Only a reader gets here (document_by_id)."""
    require(access, Need.POST)  # only a reader learns that they may not post
    if not may_change_document(access, document):
        raise Forbidden(
            f"Only the author, a user of the document's institution or a moderator may {what}."
        )
    if document.withdrawn_at is not None:
        raise Conflict("This document was withdrawn.")


def document_version_add(
    *, actor: User, document_id: int, attachment: int, note: str = ""
) -> Document:
    """Add the next version (numbered 1, 2, … per document, under a lock on the document
    row so two at once do not take the same number)."""
    document, access = document_by_id(actor, document_id)
    _require_change(access, document, "add a version")
    note = clean_note(note)
    if document.channel.archived:
        raise Conflict("This channel is archived and accepts no new versions.")
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).values_list("pk").get()
        carried = attachment_for_version(
            actor=actor, channel_id=document.channel_id, attachment_id=attachment
        )
        last = document.versions.aggregate(last=Max("number"))["last"] or 0
        DocumentVersion.objects.create(
            document=document, number=last + 1, attachment=carried, author=actor, note=note
        )
        Document.objects.filter(pk=document.pk).update(updated_at=timezone.now())
        record(
            action="document.version_added",
            actor=actor,
            channel=document.channel,
            target=f"document:{document.pk}",
            data={"version": last + 1, "attachment_id": carried.pk},
        )
    return document_get(document.pk)


def document_change(
    *,
    actor: User,
    document_id: int,
    title: str | None = None,
    summary: str | None = None,
    tags: list[str] | None = None,
    evaluation: Evaluation | Keep | None = KEEP,
) -> Document:
    """Change a document's title, summary or tags (the author, a user of its institution
    or a moderator: access.may_change_document, as for versions and withdrawal) or its
    evaluation (None withdraws it; every setting is kept): the evaluation is the author's
    grading (SPEC §2, "changeable by its author"), so only the author changes it."""
    if title is None and summary is None and tags is None and evaluation is KEEP:
        raise BadRequest("Send a title, a summary, tags or an evaluation.", field="title")
    document, access = document_by_id(actor, document_id)
    _require_change(access, document, "change it")
    if evaluation is not KEEP and document.author_id != actor.pk:
        raise Forbidden("Only the author may change a document's evaluation.")
    changes: dict[str, Any] = {}
    if title is not None:
        title = clean_title(title)
        if title != document.title:
            changes["title"] = title
    if summary is not None:
        summary = clean_summary(summary)
        if summary != document.summary:
            changes.update(summary=summary, summary_html=render_markdown(summary))
    tag_names = None if tags is None else clean_tags(tags)
    if tag_names is not None and tag_names == sorted(t.name for t in document.tags.all()):
        tag_names = None
    evaluation = evaluation_change(document, evaluation)
    if evaluation is not KEEP:
        changes.update(stored(evaluation))
    if not changes and tag_names is None:
        return document_get(document.pk)
    # Which fields changed (their names, never their text) is what the audit event says.
    fields = [name for name in ("title", "summary") if name in changes]
    with transaction.atomic():
        Document.objects.filter(pk=document.pk).update(updated_at=timezone.now(), **changes)
        if tag_names is not None:
            fields.append("tags")
            DocumentTag.objects.filter(document=document).delete()
            DocumentTag.objects.bulk_create(
                DocumentTag(document=document, name=t) for t in tag_names
            )
        if evaluation is not KEEP:
            fields.append("evaluation")
            evaluation_record(carrier=document, actor=actor, value=evaluation)
        if {"title", "summary", "tags"} & set(fields):
            index_document(
                document_id=document.pk,
                title=changes.get("title", document.title),
                summary=changes.get("summary", document.summary),
                tags=tag_names if tag_names is not None else [t.name for t in document.tags.all()],
                language=document.language,
            )
        record(
            action="document.changed",
            actor=actor,
            channel=document.channel,
            target=f"document:{document.pk}",
            data={"fields": fields},
        )
    return document_get(document.pk)


def document_withdraw(*, actor: User, document_id: int) -> Document:
    """Withdraw a document (SPEC §3 DELETE): a tombstone, so lists and search omit it while
    by id it still answers, with withdrawn_at. The author, a user of its institution or a
    moderator (access.may_change_document); withdrawing again changes nothing. Its
    versions stay downloadable by those who may read it: they may hold copies already,
    and a withdrawal says "no longer a reference", not "never existed"."""
    document, access = document_by_id(actor, document_id)
    require(access, Need.POST)
    if not may_change_document(access, document):
        raise Forbidden(
            "Only the author, a user of the document's institution or a moderator may withdraw it."
        )
    if document.withdrawn_at is not None:
        return document_get(document.pk)
    with transaction.atomic():
        Document.objects.filter(pk=document.pk).update(
            withdrawn_at=timezone.now(), withdrawn_by=actor
        )
        unindex_document(document.pk)
        record(
            action="document.withdrawn",
            actor=actor,
            channel=document.channel,
            target=f"document:{document.pk}",
            data={"author_id": document.author_id, "by_moderator": access.is_moderator},
        )
    return document_get(document.pk)
