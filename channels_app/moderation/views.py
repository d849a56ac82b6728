"""The moderation page of a channel (/c/<slug>/moderate/) and its forms.

Only the channel's moderators get here; everyone else gets what the channel page would
tell them (404 where the channel's existence is secret, 403 otherwise). Every change is
a POST form that hands over to the same services as the JSON API, which check the rules
again and audit the change; the outcome, or the service's refusal, comes back as a flash
message after a redirect (Post/Redirect/Get), so reloading never repeats a change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels_app.choices import ReportState
from channels_app.keys.selectors import current_epoch
from channels_app.moderation import selectors
from channels_app.moderation.forms import AdmitForm, BanForm, ResolveForm, RoleForm, first_error
from channels_app.pages.text import e2ee_text
from channels_app.reports import selectors as report_selectors
from channels_app.reports import services as reports
from exchange.kernel.errors import Forbidden, NotFound, ServiceError
from permissions.access import ChannelAccess, Need, access_channel
from permissions.choices import AccessRequestState, AdmissionRole
from permissions.institutions.selectors import institution_active_user_count, institution_get
from permissions.membership import requests as access_requests
from permissions.membership import selectors as membership_selectors
from permissions.membership.services import admission_remove, admission_set, ban_create, ban_remove
from permissions.people.selectors import user_get, user_signed_in

if TYPE_CHECKING:
    from permissions.models import Institution, User

P = ParamSpec("P")
ModeratorView = Callable[Concatenate[HttpRequest, ChannelAccess, P], HttpResponse]


def moderator_page(
    view: ModeratorView[P],
) -> Callable[Concatenate[HttpRequest, str, P], HttpResponse]:
    """Resolve /c/<slug>/… for a moderator of that channel, or refuse like channel_page."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        try:
            access = access_channel(user_signed_in(request=request), slug, Need.MODERATE)
        except NotFound:
            raise Http404 from None
        except Forbidden:
            return _refused(request, slug)
        return view(request, access, *args, **kwargs)

    return wrapper


def _refused(request: HttpRequest, slug: str) -> HttpResponse:
    """403: a member is told the page is for moderators, a non-member that they are not one."""
    try:
        access_channel(user_signed_in(request=request), slug, Need.READ)
    except Forbidden:
        return render(request, "forbidden.html", status=403)
    reason = _("Only the channel's moderators may open its moderation page.")
    return render(request, "forbidden.html", {"reason": reason}, status=403)


def _back(access: ChannelAccess) -> HttpResponse:
    return redirect("moderate", slug=access.channel.slug)


def _attempt(request: HttpRequest, work: Callable[[], object], success: str) -> bool:
    """Run a service; say what happened. A refusal changes nothing (the service's rule)."""
    try:
        work()
    except ServiceError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def _actor(request: HttpRequest) -> User:
    return user_signed_in(request=request)  # moderator_page checked it


@moderator_page
def moderate(request: HttpRequest, access: ChannelAccess) -> HttpResponse:
    channel = access.channel
    actor = _actor(request)
    open_reports = report_selectors.report_list(
        actor=actor, channel=channel, state=ReportState.OPEN
    )
    epoch = current_epoch(channel)
    key_stale = epoch is not None and epoch.stale
    return render(
        request,
        "moderate.html",
        {
            "channel": channel,
            "admissions": membership_selectors.admission_list(channel=channel),
            "admittable": selectors.admittable_institutions(channel),
            "bans": membership_selectors.ban_list(channel=channel),
            "bannable": selectors.bannable_users(channel),
            "requests": membership_selectors.requests_for(
                actor=actor, channel_slug=channel.slug, state=AccessRequestState.OPEN
            ),
            "reports": [
                (report, selectors.excerpt(report.message.body)) for report in open_reports
            ],
            "roles": AdmissionRole.choices,
            "key_stale": key_stale,
            # The page runs the channel page's key code to replace a stale key at once.
            "e2ee_text": e2ee_text() if key_stale else None,
            "rotation_config": {
                "channel": channel.slug,
                "username": actor.username,
                "historyVisibility": channel.history_visibility,
            },
        },
    )


def _institution(slug: str) -> Institution:
    institution = institution_get(slug=slug)
    if institution is None:
        raise NotFound(_("No such institution."))
    return institution


@require_POST
@moderator_page
def admit(request: HttpRequest, access: ChannelAccess) -> HttpResponse:
    form = AdmitForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _back(access)
    slug = form.cleaned_data["institution"]

    def work() -> None:
        # Only what the select offered: admitting twice would silently change a role.
        institution = selectors.admittable_institution_get(channel=access.channel, slug=slug)
        if institution is None:
            raise NotFound(
                _(
                    "That institution cannot be admitted: it is unknown, inactive or "
                    "already admitted."
                )
            )
        admission_set(
            actor=_actor(request),
            channel=access.channel,
            institution=institution,
            role=form.cleaned_data["role"],
        )

    _attempt(request, work, _("The institution was admitted."))
    return _back(access)


@require_POST
@moderator_page
def change_role(request: HttpRequest, access: ChannelAccess, institution: str) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _back(access)

    def work() -> None:
        target = _institution(institution)
        if not membership_selectors.admission_exists(channel=access.channel, institution=target):
            raise NotFound(_("That institution is not admitted to this channel."))
        admission_set(
            actor=_actor(request),
            channel=access.channel,
            institution=target,
            role=form.cleaned_data["role"],
        )

    _attempt(request, work, _("The role was changed."))
    return _back(access)


@moderator_page
def remove_institution(
    request: HttpRequest, access: ChannelAccess, institution: str
) -> HttpResponse:
    """GET: say what removing does and ask to confirm; POST: remove."""
    admission = membership_selectors.admission_get(
        channel=access.channel, institution_slug=institution
    )
    if admission is None:
        messages.error(request, _("That institution is not admitted to this channel."))
        return _back(access)
    if request.method != "POST":
        return render(
            request,
            "moderate_remove.html",
            {
                "channel": access.channel,
                "admission": admission,
                "users": institution_active_user_count(institution=admission.institution),
            },
        )
    _attempt(
        request,
        lambda: admission_remove(
            actor=_actor(request), channel=access.channel, institution=admission.institution
        ),
        _("%(name)s was removed: its users lost access at once.")
        % {"name": admission.institution.name},
    )
    return _back(access)


@require_POST
@moderator_page
def ban(request: HttpRequest, access: ChannelAccess) -> HttpResponse:
    form = BanForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _back(access)
    username = form.cleaned_data["username"]

    def work() -> None:
        user = selectors.bannable_user_get(channel=access.channel, username=username)
        if user is None:
            raise NotFound(
                _(
                    "%(username)s cannot be banned here: only users of admitted institutions "
                    "who are not banned yet and do not moderate the channel."
                )
                % {"username": username}
            )
        ban_create(actor=_actor(request), channel=access.channel, user=user)

    _attempt(request, work, _("%(username)s was banned.") % {"username": username})
    return _back(access)


@require_POST
@moderator_page
def unban(request: HttpRequest, access: ChannelAccess, username: str) -> HttpResponse:
    def work() -> None:
        user = user_get(username=username)
        if user is None:
            raise NotFound(_("That user is not banned from this channel."))
        ban_remove(actor=_actor(request), channel=access.channel, user=user)

    _attempt(request, work, _("The ban on %(username)s was lifted.") % {"username": username})
    return _back(access)


def _request_of_channel(request: HttpRequest, access: ChannelAccess, request_id: int) -> bool:
    """Whether the access request belongs to this page's channel (the form posts here)."""
    if not membership_selectors.access_request_exists(
        actor=_actor(request), channel_slug=access.channel.slug, request_id=request_id
    ):
        messages.error(request, _("No such access request."))
        return False
    return True


@require_POST
@moderator_page
def approve_request(request: HttpRequest, access: ChannelAccess, request_id: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
    elif _request_of_channel(request, access, request_id):
        _attempt(
            request,
            lambda: access_requests.request_approve(
                actor=_actor(request), request_id=request_id, role=form.cleaned_data["role"]
            ),
            _("The request was approved: the institution is admitted."),
        )
    return _back(access)


@require_POST
@moderator_page
def decline_request(request: HttpRequest, access: ChannelAccess, request_id: int) -> HttpResponse:
    if _request_of_channel(request, access, request_id):
        _attempt(
            request,
            lambda: access_requests.request_decline(actor=_actor(request), request_id=request_id),
            _("The request was declined."),
        )
    return _back(access)


@require_POST
@moderator_page
def resolve_report(request: HttpRequest, access: ChannelAccess, report_id: int) -> HttpResponse:
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return _back(access)
    if not report_selectors.report_exists(
        actor=_actor(request), channel=access.channel, report_id=report_id
    ):
        messages.error(request, _("No such report."))
        return _back(access)
    delete = form.cleaned_data["delete_message"]
    _attempt(
        request,
        lambda: reports.report_resolve(
            actor=_actor(request),
            report_id=report_id,
            resolution=form.cleaned_data["resolution"],
            delete_message=delete,
        ),
        _("The report was resolved and the message deleted.")
        if delete
        else _("The report was resolved."),
    )
    return _back(access)
