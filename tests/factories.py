"""Builders for test data, going through the same services the product uses."""

from __future__ import annotations

import itertools
import uuid

from channels_app.documents.services import document_add
from channels_app.messages.services import message_send
from channels_app.models import Attachment, Channel, Document, Epoch, Message
from permissions.institutions.registry import institution_upsert
from permissions.membership.services import admission_set, moderator_appoint
from permissions.models import Institution, User
from permissions.people.services import user_upsert
from permissions.sign_in.tokens import token_issue

_counter = itertools.count(1)


def make_institution(
    slug: str | None = None, *, country: str = "ES", kind: str = "police"
) -> Institution:
    slug = slug or f"inst-{next(_counter)}"
    return institution_upsert(
        slug=slug, name=slug.replace("-", " ").title(), country=country, kind=kind
    )


def make_user(
    username: str | None = None, *, institution: Institution | None = None, **extra: object
) -> User:
    username = username or f"user{next(_counter)}"
    institution = institution or make_institution()
    return user_upsert(
        username=username,
        institution=institution,
        display_name=username.title(),
        password="correct horse battery staple",
        **extra,  # type: ignore[arg-type]
    )


def make_channel(slug: str | None = None, **fields: object) -> Channel:
    slug = slug or f"channel-{next(_counter)}"
    return Channel.objects.create(slug=slug, title=slug.title(), **fields)


def admit(channel: Channel, institution: Institution, role: str = "participant") -> None:
    admission_set(actor=None, channel=channel, institution=institution, role=role)


def make_moderator(channel: Channel, user: User) -> None:
    moderator_appoint(actor=None, channel=channel, user=user)


def post(user: User, channel: Channel, body: str = "hello", **extra: object) -> Message:
    message, _ = message_send(
        actor=user,
        channel_slug=channel.slug,
        client_id=uuid.uuid4(),
        body=body,
        **extra,  # type: ignore[arg-type]
    )
    return message


def token_for(user: User) -> str:
    return token_issue(user=user, name="test")


def bare_attachment(channel: Channel, uploader: User) -> Attachment:
    """An attachment row with no stored file, to epoch 1 (made if missing): enough where
    only the row matters (a document's version, a message's attachment)."""
    epoch, _ = Epoch.objects.get_or_create(channel=channel, number=1, defaults={"public_key": "x"})
    return Attachment.objects.create(
        channel=channel,
        epoch=epoch,
        uploader=uploader,
        storage_name=f"attachments/test-{next(_counter)}.age",
        size=1,
        sha256="0" * 64,
        meta=b"",
    )


def make_document(user: User, channel: Channel, **fields: object) -> Document:
    """A document added through the service, its version 1 on a bare attachment."""
    return document_add(
        actor=user,
        channel_slug=channel.slug,
        attachment=bare_attachment(channel, user).pk,
        **{"title": "A lesson", "language": "en", **fields},  # type: ignore[arg-type]
    )
