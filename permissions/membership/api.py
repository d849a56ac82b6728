"""Moderators' API routes (SPEC §3): admissions, bans and access requests of a channel.

Each route resolves the channel with the caller's access (404 for an unlisted channel
they are not in, 403 otherwise) and hands the change to a service, which checks again
and audits it. Request bodies refuse unknown fields, so no one smuggles in `admitted_by`
or `state`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StrictStr

from exchange.kernel.errors import NotFound
from exchange.kernel.schema import Strict
from permissions.access import Need, access_channel
from permissions.institutions.selectors import institution_get
from permissions.membership import requests as access_requests
from permissions.membership import selectors
from permissions.membership.services import admission_remove, admission_set, ban_create, ban_remove
from permissions.people.api import InstitutionOut, institution_schema, request_user
from permissions.people.selectors import user_get

if TYPE_CHECKING:
    from permissions.models import AccessRequest, Admission, Institution, User

router = Router(tags=["moderation"])

Role = Literal["participant", "observer"]


class AdmissionIn(Strict):
    institution: StrictStr = Field(max_length=64, description="The institution's slug")
    role: Role = "participant"


class RoleIn(Strict):
    role: Role


class AdmissionOut(Schema):
    institution: InstitutionOut
    role: str
    admitted_by: str | None
    created_at: datetime


class BanIn(Strict):
    username: StrictStr = Field(max_length=150)


class BanOut(Schema):
    username: str
    display_name: str
    institution: str | None
    banned_by: str | None
    created_at: datetime


class RequestIn(Strict):
    note: StrictStr = Field(default="", max_length=1000)


class ApproveIn(Strict):
    role: Role = "participant"


class RequestOut(Schema):
    id: int
    channel: str
    institution: InstitutionOut
    requested_by: str
    note: str
    state: str
    answered_by: str | None
    answered_at: datetime | None
    created_at: datetime


def _admission_out(admission: Admission) -> AdmissionOut:
    return AdmissionOut(
        institution=institution_schema(admission.institution),
        role=admission.role,
        admitted_by=admission.admitted_by.username if admission.admitted_by else None,
        created_at=admission.created_at,
    )


def _request_out(request: AccessRequest) -> RequestOut:
    return RequestOut(
        id=request.pk,
        channel=request.channel.slug,
        institution=institution_schema(request.institution),
        requested_by=request.requested_by.username,
        note=request.note,
        state=request.state,
        answered_by=request.answered_by.username if request.answered_by else None,
        answered_at=request.answered_at,
        created_at=request.created_at,
    )


def _institution(slug: str) -> Institution:
    institution = institution_get(slug=slug)
    if institution is None:
        raise NotFound("No such institution.", field="institution")
    return institution


def _user(username: str) -> User:
    user = user_get(username=username)
    if user is None:
        raise NotFound("No such user.", field="username")
    return user


# --- admissions --------------------------------------------------------------------


@router.get(
    "/channels/{slug}/admissions",
    response=list[AdmissionOut],
    summary="Institutions admitted to a channel (moderators)",
)
def admission_list(request: HttpRequest, slug: str) -> list[AdmissionOut]:
    channel = access_channel(request_user(request), slug, Need.MODERATE).channel
    return [_admission_out(a) for a in selectors.admission_list(channel=channel)]


@router.post(
    "/channels/{slug}/admissions",
    response={200: AdmissionOut, 201: AdmissionOut},
    summary="Admit an institution, or change its role (moderators)",
)
def admission_create(request: HttpRequest, slug: str, payload: AdmissionIn) -> Status[AdmissionOut]:
    actor = request_user(request)
    channel = access_channel(actor, slug, Need.MODERATE).channel
    institution = _institution(payload.institution)
    existed = selectors.admission_exists(channel=channel, institution=institution)
    admission = admission_set(
        actor=actor, channel=channel, institution=institution, role=payload.role
    )
    return Status(200 if existed else 201, _admission_out(admission))


@router.patch(
    "/channels/{slug}/admissions/{institution}",
    response=AdmissionOut,
    summary="Change an admitted institution's role (moderators)",
)
def admission_change(
    request: HttpRequest, slug: str, institution: str, payload: RoleIn
) -> AdmissionOut:
    actor = request_user(request)
    channel = access_channel(actor, slug, Need.MODERATE).channel
    target = _institution(institution)
    if not selectors.admission_exists(channel=channel, institution=target):
        raise NotFound("That institution is not admitted to this channel.")
    return _admission_out(
        admission_set(actor=actor, channel=channel, institution=target, role=payload.role)
    )


@router.delete(
    "/channels/{slug}/admissions/{institution}",
    response={204: None},
    summary="Remove an institution: its users lose access at once (moderators)",
)
def admission_delete(request: HttpRequest, slug: str, institution: str) -> Status[None]:
    actor = request_user(request)
    channel = access_channel(actor, slug, Need.MODERATE).channel
    admission_remove(actor=actor, channel=channel, institution=_institution(institution))
    return Status(204, None)


# --- bans --------------------------------------------------------------------------


@router.get("/channels/{slug}/bans", response=list[BanOut], summary="Users banned from a channel")
def ban_list(request: HttpRequest, slug: str) -> list[BanOut]:
    channel = access_channel(request_user(request), slug, Need.MODERATE).channel
    return [
        BanOut(
            username=ban.user.username,
            display_name=ban.user.shown_name,
            institution=ban.user.institution.slug if ban.user.institution else None,
            banned_by=ban.banned_by.username if ban.banned_by else None,
            created_at=ban.created_at,
        )
        for ban in selectors.ban_list(channel=channel)
    ]


@router.post(
    "/channels/{slug}/bans",
    response={201: BanOut},
    summary="Ban one user while their institution stays admitted (moderators)",
)
def ban_add(request: HttpRequest, slug: str, payload: BanIn) -> Status[BanOut]:
    actor = request_user(request)
    channel = access_channel(actor, slug, Need.MODERATE).channel
    user = _user(payload.username)
    ban = ban_create(actor=actor, channel=channel, user=user)
    return Status(
        201,
        BanOut(
            username=user.username,
            display_name=user.shown_name,
            institution=user.institution.slug if user.institution else None,
            banned_by=ban.banned_by.username if ban.banned_by else None,
            created_at=ban.created_at,
        ),
    )


@router.delete("/channels/{slug}/bans/{username}", response={204: None}, summary="Lift a ban")
def ban_delete(request: HttpRequest, slug: str, username: str) -> Status[None]:
    actor = request_user(request)
    channel = access_channel(actor, slug, Need.MODERATE).channel
    ban_remove(actor=actor, channel=channel, user=_user(username))
    return Status(204, None)


# --- access requests ---------------------------------------------------------------


@router.get(
    "/channels/{slug}/requests",
    response=list[RequestOut],
    summary="Access requests: all of them for moderators, one's institution's for others",
)
def request_list(request: HttpRequest, slug: str, state: str | None = None) -> list[RequestOut]:
    requests = selectors.requests_for(actor=request_user(request), channel_slug=slug, state=state)
    return [_request_out(r) for r in requests]


@router.post(
    "/channels/{slug}/requests",
    response={201: RequestOut},
    summary="Ask for one's institution to join a channel",
)
def request_create(request: HttpRequest, slug: str, payload: RequestIn) -> Status[RequestOut]:
    made = access_requests.request_file(
        actor=request_user(request), channel_slug=slug, note=payload.note
    )
    return Status(201, _request_out(made))


@router.post(
    "/requests/{request_id}/approve",
    response=RequestOut,
    summary="Approve an access request: admits the institution (moderators)",
)
def request_approve(request: HttpRequest, request_id: int, payload: ApproveIn) -> RequestOut:
    answered = access_requests.request_approve(
        actor=request_user(request), request_id=request_id, role=payload.role
    )
    return _request_out(answered)


@router.post(
    "/requests/{request_id}/decline",
    response=RequestOut,
    summary="Decline an access request (moderators)",
)
def request_decline(request: HttpRequest, request_id: int) -> RequestOut:
    return _request_out(
        access_requests.request_decline(actor=request_user(request), request_id=request_id)
    )
