"""The focal point's page (/institution/) and the invitation link (/invite/…/).

The page's forms post to the views below, which call the same services as the API
(permissions/institutions/services.py); the services decide who may do what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetConfirmView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from exchange.kernel.errors import ServiceError
from permissions.access import may_administer
from permissions.institutions import certification
from permissions.institutions.forms import InviteForm, RecertifyForm
from permissions.institutions.services import (
    institution_users,
    invitation_site,
    invitation_tokens,
    user_deactivate,
    user_invite,
    user_reactivate,
    users_recertify,
)
from permissions.people.selectors import user_from

if TYPE_CHECKING:
    from permissions.models import Institution, User


def _administered(request: HttpRequest) -> tuple[User, Institution] | None:
    """The signed-in focal point and their institution, or None for anyone else."""
    user = user_from(candidate=request.user)
    if user is None or user.institution is None:
        return None
    if not may_administer(user, user.institution):
        return None
    return user, user.institution


def _not_a_focal_point(request: HttpRequest) -> HttpResponse:
    return render(request, "institution_forbidden.html", status=403)


def _page(
    request: HttpRequest,
    actor: User,
    institution: Institution,
    *,
    invite_form: InviteForm | None = None,
    invite_url: str | None = None,
    status: int = 200,
) -> HttpResponse:
    users = institution_users(actor=actor, institution=institution)
    rows = [
        {
            "user": user,
            "due_at": certification.due_at(user.certified_at),
            "lapses_at": certification.lapses_at(user.certified_at),
            "is_due": user.is_active and certification.is_due(user),
            "is_lapsed": user.is_active and certification.is_lapsed(user),
        }
        for user in users
    ]
    context: dict[str, Any] = {
        "institution": institution,
        "rows": rows,
        "invite_form": invite_form or InviteForm(),
        "invite_url": invite_url,
        "recertify_form": RecertifyForm(users=users),
    }
    return render(request, "institution.html", context, status=status)


@login_required
def institution_page(request: HttpRequest) -> HttpResponse:
    """The users of the focal point's institution, with the forms that act on them."""
    administered = _administered(request)
    if administered is None:
        return _not_a_focal_point(request)
    return _page(request, *administered)


@login_required
@require_POST
def institution_invite(request: HttpRequest) -> HttpResponse:
    """Invite a user; the link is shown in this response only (and emailed)."""
    administered = _administered(request)
    if administered is None:
        return _not_a_focal_point(request)
    actor, institution = administered
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _page(request, actor, institution, invite_form=form, status=400)
    try:
        invitation = user_invite(
            actor=actor,
            institution=institution,
            site_url=invitation_site(request),
            **form.cleaned_data,
        )
    except ServiceError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _page(request, actor, institution, invite_form=form, status=exc.status)
    return _page(request, actor, institution, invite_url=invitation.url)


@login_required
@require_POST
def institution_user_active(request: HttpRequest, username: str, active: bool) -> HttpResponse:
    administered = _administered(request)
    if administered is None:
        return _not_a_focal_point(request)
    actor, institution = administered
    try:
        if active:
            user_reactivate(actor=actor, institution=institution, username=username)
            messages.success(request, _("%(username)s is active again.") % {"username": username})
        else:
            user_deactivate(actor=actor, institution=institution, username=username)
            messages.success(
                request,
                _("%(username)s is deactivated and has lost access everywhere.")
                % {"username": username},
            )
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("institution")


@login_required
@require_POST
def institution_recertify(request: HttpRequest) -> HttpResponse:
    administered = _administered(request)
    if administered is None:
        return _not_a_focal_point(request)
    actor, institution = administered
    form = RecertifyForm(
        request.POST, users=institution_users(actor=actor, institution=institution)
    )
    if not form.is_valid():
        messages.error(request, _("Tick the users you confirm."))
        return redirect("institution")
    try:
        confirmed = users_recertify(
            actor=actor, institution=institution, usernames=form.cleaned_data["usernames"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Confirmed: %(usernames)s.")
            % {"usernames": ", ".join(u.username for u in confirmed)},
        )
    return redirect("institution")


class InviteAcceptView(PasswordResetConfirmView):
    """Django's password-reset confirmation, with the invitation tokens: the invited
    user chooses a password (checked by AUTH_PASSWORD_VALIDATORS), then signs in."""

    token_generator = invitation_tokens
    template_name = "invite_accept.html"
    success_url = reverse_lazy("invite_done")


def invite_done(request: HttpRequest) -> HttpResponse:
    return render(request, "invite_done.html")
