"""Server-rendered pages. They read through the same guards and selectors as the API;
everything live (sending, receiving) goes through the socket from static/js/."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from channels_app import selectors
from channels_app.attachment_services import max_upload_bytes
from channels_app.page_text import e2ee_text
from exchange.errors import Forbidden, NotAuthenticated, NotFound
from permissions.access import Need, access_channel
from permissions.models import User


@login_required
@ensure_csrf_cookie
def catalogue(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101  (login_required guarantees it)
    entries = selectors.channel_catalogue(request.user)
    return render(request, "catalogue.html", {"entries": entries, "e2ee_text": e2ee_text()})


@login_required
@ensure_csrf_cookie
def keys_page(request: HttpRequest) -> HttpResponse:
    """The user's encryption key: fingerprint, recovery code once, restore."""
    return render(request, "keys.html", {"e2ee_text": e2ee_text()})


@login_required
@ensure_csrf_cookie
def channel_page(request: HttpRequest, slug: str) -> HttpResponse:
    assert isinstance(request.user, User)  # noqa: S101
    try:
        access = access_channel(request.user, slug, Need.READ)
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
            "page_config": {
                "channel": access.channel.slug,
                "canPost": access.can_post and not access.channel.archived,
                "username": request.user.username,
                "historyVisibility": access.channel.history_visibility,
                "isModerator": access.can_moderate,
                "maxUpload": max_upload_bytes(),
                "maxBody": 10_000,
            },
        },
    )
