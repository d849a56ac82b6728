"""API routes of a focal point (SPEC extension, docs/moderation.md "Focal points"): the
users of an institution, invitations, deactivation, reactivation and recertification.

Open to the focal points of that institution and to platform admins; everyone else is
told 403, and an unknown institution 404. Request bodies forbid unknown fields, so a
client cannot slip `is_staff` or another institution into an invitation.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictStr

from permissions.institutions import certification
from permissions.institutions.services import (
    institution_by_slug,
    institution_users,
    invitation_site,
    user_deactivate,
    user_invite,
    user_reactivate,
    users_recertify,
)
from permissions.people.api import request_user

if TYPE_CHECKING:
    from permissions.models import User

router = Router(tags=["focal points"])


class InstitutionUserOut(Schema):
    username: str
    display_name: str
    email: str
    is_active: bool
    is_focal_point: bool
    certified_at: datetime
    due_at: datetime
    lapses_at: datetime


class InviteIn(Schema):
    model_config = ConfigDict(extra="forbid")
    username: StrictStr = Field(min_length=1, max_length=150)
    email: StrictStr = Field(min_length=3, max_length=254)
    display_name: StrictStr = Field(default="", max_length=150)
    preferred_language: StrictStr = Field(default=settings.LANGUAGE_CODE, max_length=8)


class InviteOut(Schema):
    username: str
    invite_url: str


class RecertifyIn(Schema):
    model_config = ConfigDict(extra="forbid")
    usernames: list[StrictStr] = Field(min_length=1, max_length=1000)


class RecertifyOut(Schema):
    usernames: list[str]
    certified_at: datetime


def user_out(user: User) -> InstitutionUserOut:
    return InstitutionUserOut(
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        is_active=user.is_active,
        is_focal_point=user.is_focal_point,
        certified_at=user.certified_at,
        due_at=certification.due_at(user.certified_at),
        lapses_at=certification.lapses_at(user.certified_at),
    )


@router.get(
    "/institutions/{slug}/users",
    response=list[InstitutionUserOut],
    summary="The users of an institution, with their recertification dates (focal points)",
)
def institution_user_list(request: HttpRequest, slug: str) -> list[InstitutionUserOut]:
    users = institution_users(actor=request_user(request), institution=institution_by_slug(slug))
    return [user_out(user) for user in users]


@router.post(
    "/institutions/{slug}/users",
    response={201: InviteOut},
    summary="Invite a user; the link to set a password is emailed and returned this once",
)
def institution_user_invite(
    request: HttpRequest, slug: str, payload: InviteIn
) -> Status[InviteOut]:
    invitation = user_invite(
        actor=request_user(request),
        institution=institution_by_slug(slug),
        username=payload.username,
        email=payload.email,
        display_name=payload.display_name,
        preferred_language=payload.preferred_language,
        site_url=invitation_site(request),
    )
    return Status(201, InviteOut(username=invitation.user.username, invite_url=invitation.url))


@router.post(
    "/institutions/{slug}/users/{username}/deactivate",
    response=InstitutionUserOut,
    summary="Deactivate a user: their access ends everywhere at once (focal points)",
)
def institution_user_deactivate(
    request: HttpRequest, slug: str, username: str
) -> InstitutionUserOut:
    user = user_deactivate(
        actor=request_user(request), institution=institution_by_slug(slug), username=username
    )
    return user_out(user)


@router.post(
    "/institutions/{slug}/users/{username}/reactivate",
    response=InstitutionUserOut,
    summary="Reactivate a user, confirmed as of now (focal points)",
)
def institution_user_reactivate(
    request: HttpRequest, slug: str, username: str
) -> InstitutionUserOut:
    user = user_reactivate(
        actor=request_user(request), institution=institution_by_slug(slug), username=username
    )
    return user_out(user)


@router.post(
    "/institutions/{slug}/recertify",
    response=RecertifyOut,
    summary="Confirm that these users still belong to the institution (focal points)",
)
def institution_recertify(request: HttpRequest, slug: str, payload: RecertifyIn) -> RecertifyOut:
    users = users_recertify(
        actor=request_user(request),
        institution=institution_by_slug(slug),
        usernames=payload.usernames,
    )
    return RecertifyOut(
        usernames=[user.username for user in users], certified_at=users[0].certified_at
    )
