"""Server-rendered pages. They read through the same guards and selectors as the API;
everything live (sending, receiving) goes through the socket from static/js/."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from channels_app.attachments.services import max_upload_bytes
from channels_app.messages import selectors
from channels_app.moderation import selectors as moderation_selectors
from channels_app.moderation.forms import AskToJoinForm, first_error
from channels_app.pages.text import e2ee_text, evaluation_text, moderation_text
from exchange.kernel.errors import Forbidden, NotAuthenticated, NotFound, ServiceError
from permissions.access import Need, access_channel
from permissions.membership import requests as access_requests
from permissions.people.selectors import user_signed_in


@dataclass(frozen=True)
class CatalogueCard:
    """One channel in the catalogue, with what the reader may do about it."""

    entry: selectors.CatalogueEntry
    request_state: str | None  # the reader's institution's latest access request, if any
    counts: moderation_selectors.ModerationCounts | None  # for the channel's moderators


@login_required
@ensure_csrf_cookie
def catalogue(request: HttpRequest) -> HttpResponse:
    user = user_signed_in(request=request)
    entries = selectors.channel_catalogue(user)
    states = moderation_selectors.latest_request_states(user.institution_id)
    counts = moderation_selectors.moderation_counts(
        [e.channel.pk for e in entries if e.access.can_moderate]
    )
    cards = [
        CatalogueCard(
            entry=e, request_state=states.get(e.channel.pk), counts=counts.get(e.channel.pk)
        )
        for e in entries
    ]
    return render(
        request,
        "catalogue.html",
        {
            "cards": cards,
            "can_ask": user.institution_id is not None,
            "e2ee_text": e2ee_text(),
        },
    )


@require_POST
@login_required
def ask_to_join(request: HttpRequest, slug: str) -> HttpResponse:
    """The catalogue's "Ask to join" form: file an access request for one's institution."""
    user = user_signed_in(request=request)
    form = AskToJoinForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("catalogue")
    try:
        access_requests.request_file(actor=user, channel_slug=slug, note=form.cleaned_data["note"])
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your request was sent to the channel's moderators."))
    return redirect("catalogue")


@login_required
@ensure_csrf_cookie
def keys_page(request: HttpRequest) -> HttpResponse:
    """The user's encryption key: fingerprint, recovery code once, restore."""
    return render(request, "keys.html", {"e2ee_text": e2ee_text()})


@login_required
@ensure_csrf_cookie
def channel_page(request: HttpRequest, slug: str) -> HttpResponse:
    user = user_signed_in(request=request)
    try:
        access = access_channel(user, slug, Need.READ)
    except NotFound:
        raise Http404 from None
    except (Forbidden, NotAuthenticated):  # NotAuthenticated: signed in, but lapsed
        return render(request, "forbidden.html", status=403)
    return render(
        request,
        "channel.html",
        {
            "channel": access.channel,
            "access": access,
            "e2ee_text": e2ee_text(),
            "moderation_text": moderation_text(),
            "evaluation_text": evaluation_text(),
            "page_config": {
                "channel": access.channel.slug,
                "canPost": access.can_post and not access.channel.archived,
                "username": user.username,
                "historyVisibility": access.channel.history_visibility,
                "isModerator": access.can_moderate,
                "maxUpload": max_upload_bytes(),
                "maxBody": 10_000,
            },
        },
    )
