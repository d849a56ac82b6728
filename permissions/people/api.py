"""API routes about the signed-in person: who they are, their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictInt, StrictStr

from exchange.kernel.errors import NotAuthenticated, TwoFactorRequired
from permissions.access import roles_held
from permissions.people.selectors import api_token_list, user_from
from permissions.sign_in.tokens import token_issue, token_revoke
from permissions.sign_in.two_factor import uses_two_factor, verified_device

if TYPE_CHECKING:
    from permissions.models import Institution, User

router = Router(tags=["people"])


def request_user(request: HttpRequest) -> User:
    """The authenticated user of an API request (ninja's auth has already run)."""
    user = user_from(candidate=request.auth)  # type: ignore[attr-defined]
    if user is None:
        raise NotAuthenticated("Sign in or send a valid bearer token.")
    return user


class InstitutionOut(Schema):
    slug: str
    name: str
    country: str
    kind: str


class RoleOut(Schema):
    role: str = Field(
        description="platform_admin, focal_point, moderator, participant or observer (SPEC §1)"
    )
    channel: str | None = Field(description="the channel's slug; null for a platform-wide role")


class MeOut(Schema):
    username: str
    display_name: str
    email: str
    preferred_language: str
    institution: InstitutionOut | None
    is_focal_point: bool
    is_platform_admin: bool
    roles: list[RoleOut]


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(default="", max_length=100)
    expires_days: StrictInt | None = Field(default=None, ge=1, le=3650)


class TokenCreatedOut(Schema):
    token: str


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def institution_out(user: User) -> InstitutionOut | None:
    return institution_schema(user.institution) if user.institution is not None else None


def institution_schema(institution: Institution) -> InstitutionOut:
    return InstitutionOut(
        slug=institution.slug,
        name=institution.name,
        country=str(institution.country),
        kind=institution.kind,
    )


@router.get("/me", response=MeOut, summary="The signed-in user, their institution and roles")
def me(request: HttpRequest) -> MeOut:
    user = request_user(request)
    return MeOut(
        username=user.username,
        display_name=user.shown_name,
        email=user.email,
        preferred_language=user.preferred_language,
        institution=institution_out(user),
        is_focal_point=user.is_focal_point,
        is_platform_admin=user.is_staff,
        roles=[RoleOut(role=r.role, channel=r.channel) for r in roles_held(user)],
    )


@router.get("/tokens", response=list[TokenOut], summary="One's personal API tokens")
def token_list(request: HttpRequest) -> list[TokenOut]:
    return [
        TokenOut.model_validate(t, from_attributes=True)
        for t in api_token_list(user=request_user(request))
    ]


@router.post(
    "/tokens",
    response={201: TokenCreatedOut},
    summary="Issue a personal API token; the secret is shown this once",
)
def token_create(request: HttpRequest, payload: TokenIn) -> Status[TokenCreatedOut]:
    """A user who signs in with a one-time code issues tokens only from a session that
    entered one: a bearer token must not mint another for someone whose sign-in needs
    two factors (once issued, a token authenticates on its own)."""
    user = request_user(request)
    if uses_two_factor(user) and verified_device(user, request.session) is None:
        raise TwoFactorRequired(
            "Issuing a token needs a browser session signed in with your one-time code."
        )
    secret = token_issue(user=user, name=payload.name, expires_days=payload.expires_days)
    return Status(201, TokenCreatedOut(token=secret))


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke a token")
def token_delete(request: HttpRequest, token_id: int) -> Status[None]:
    token_revoke(user=request_user(request), token_id=token_id)
    return Status(204, None)
