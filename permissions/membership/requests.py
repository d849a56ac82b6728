"""Institutions ask to join a channel; its moderators answer (SPEC §2 "Access request").

A member of an institution that is not admitted files a request from the catalogue;
at most one request per institution and channel is open. A moderator of that channel
approves it with the role they choose (the admission then goes through
`admission_set`, like any other) or declines it. Every step is audited.
"""

from __future__ import annotations

from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.chain import record
from exchange.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from exchange.kernel.events import AccessChanged
from exchange.kernel.realtime import send_on_commit, user_group
from permissions.access import Need, access_channel, channel_access, require
from permissions.membership.services import admission_set
from permissions.models import (
    AccessRequest,
    AccessRequestState,
    Admission,
    AdmissionRole,
    User,
)

MAX_NOTE = 1000


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise BadRequest(f"A note is at most {MAX_NOTE} characters.", field="note")
    return note


def request_file(*, actor: User, channel_slug: str, note: str = "") -> AccessRequest:
    """File a request for the actor's institution to join a listed channel."""
    if actor.institution_id is None:
        raise Forbidden("Only members of an institution may ask to join.")
    try:
        access = access_channel(actor, channel_slug, Need.READ)
    except Forbidden:
        access = None  # listed, not a member: the one case a request makes sense
    channel = apps.get_model("channels_app", "Channel").objects.get(slug=channel_slug)
    admitted = Admission.objects.filter(channel=channel, institution_id=actor.institution_id)
    if access is not None or admitted.exists():
        # (A banned member's institution is admitted: the ban is a moderator's decision
        # about one person, not something a request can undo.)
        raise Conflict("Your institution already takes part in this channel.")
    if channel.archived:
        raise Conflict("This channel is archived.")
    note = _clean_note(note)
    try:
        with transaction.atomic():
            request = AccessRequest.objects.create(
                channel=channel, institution_id=actor.institution_id, requested_by=actor, note=note
            )
            record(
                action="access_request.filed",
                actor=actor,
                channel=channel,
                target=f"institution:{actor.institution.slug if actor.institution else ''}",
                data={"request_id": request.pk},
            )
    except IntegrityError:
        raise Conflict("Your institution already has an open request for this channel.") from None
    return request


def _open_request_for_moderator(actor: User, request_id: int) -> AccessRequest:
    request = (
        AccessRequest.objects.select_for_update(of=("self",))
        .select_related("channel", "institution", "requested_by", "answered_by")
        .filter(pk=request_id)
        .first()
    )
    if request is None or not channel_access(actor, request.channel).can_moderate:
        # A request names who asked to join what: no one else learns it exists.
        raise NotFound("No such access request.")
    require(channel_access(actor, request.channel), Need.MODERATE)
    if request.state != AccessRequestState.OPEN:
        raise Conflict(f"This request was already {request.state}.")
    return request


def _answer(actor: User, request: AccessRequest, state: str) -> None:
    request.state = state
    request.answered_by = actor
    request.answered_at = timezone.now()
    request.save(update_fields=["state", "answered_by", "answered_at"])
    record(
        action=f"access_request.{state}",
        actor=actor,
        channel=request.channel,
        target=f"institution:{request.institution.slug}",
        data={"request_id": request.pk},
    )
    send_on_commit(
        user_group(request.requested_by_id),
        AccessChanged(channel_id=request.channel_id),
    )


def request_approve(
    *, actor: User, request_id: int, role: str = AdmissionRole.PARTICIPANT
) -> AccessRequest:
    """Admit the requesting institution with `role` and close the request."""
    if role not in AdmissionRole.values:
        raise BadRequest(f"Unknown role {role!r}; participant or observer.", field="role")
    with transaction.atomic():
        request = _open_request_for_moderator(actor, request_id)
        admission_set(
            actor=actor, channel=request.channel, institution=request.institution, role=role
        )
        _answer(actor, request, AccessRequestState.APPROVED)
    return request


def request_decline(*, actor: User, request_id: int) -> AccessRequest:
    with transaction.atomic():
        request = _open_request_for_moderator(actor, request_id)
        _answer(actor, request, AccessRequestState.DECLINED)
    return request
