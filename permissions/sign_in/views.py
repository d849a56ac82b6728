"""The sign-in pages: password, one-time code, enrolment in two-factor sign-in, password
change, sign-out. What each session may do afterwards is decided by permissions.sign_in.two_factor;
permissions.sign_in.middleware sends a session that has only passed the password here."""

from __future__ import annotations

from base64 import b32encode
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import LoginView, LogoutView, PasswordChangeView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from django_otp.models import Device

from exchange.kernel.errors import RateLimited, ServiceError
from permissions.people.selectors import user_signed_in
from permissions.sign_in.forms import CodeForm
from permissions.sign_in.sessions import close_session_sockets, close_user_sockets
from permissions.sign_in.two_factor import SessionState, session_state
from permissions.sign_in.two_factor_services import (
    code_verify,
    totp_device_for_enrolment,
    totp_enrolment_confirm,
)

if TYPE_CHECKING:
    from permissions.models import User


def next_step_url(state: SessionState, next_url: str) -> str | None:
    """Where a signed-in session in `state` must go before anything else, if anywhere."""
    if state is SessionState.NEEDS_CODE:
        name = "two_factor_verify"
    elif state is SessionState.NEEDS_ENROLMENT:
        name = "two_factor_enrol"
    else:
        return None
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _signed_in_user(request: HttpRequest) -> User:
    return user_signed_in(request=request)


def _verified(request: HttpRequest, device: Device) -> None:
    otp_login(request, device)
    # The session now carries more trust than before: give it a key of its own.
    request.session.cycle_key()


class SignInView(LoginView):
    """Password sign-in. Django's login() gives the session a new key and fires
    user_logged_in; a wrong password fires user_login_failed (and counts for django-axes).
    The answer to a wrong password is the same whether or not the username exists."""

    template_name = "login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        step = next_step_url(
            session_state(form.get_user(), self.request.session), self.get_success_url()
        )
        return HttpResponseRedirect(step) if step else response


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer to a locked-out sign-in (AXES_LOCKOUT_CALLABLE): a page that
    says what happened and when it lifts, 429 with Retry-After. It is the same for every
    username, known or not."""
    cool_off = settings.AXES_COOLOFF_TIME
    response = render(
        request,
        "locked_out.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": int(cool_off.total_seconds() // 60),
        },
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


class SignOutView(LogoutView):
    """Sign-out (POST only): ends the session and closes the sockets opened with it."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        session_key = request.session.session_key
        response = super().post(request, *args, **kwargs)
        if session_key:
            close_session_sockets(session_key)
        return response


@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The code step after the password, for a user who has a device."""
    user = _signed_in_user(request)
    next_url = _safe_next(request)
    state = session_state(user, request.session)
    if state is not SessionState.NEEDS_CODE:
        return redirect(next_step_url(state, next_url) or next_url)
    form = CodeForm(request.POST or None)
    status = 200
    response_headers: dict[str, str] = {}
    if request.method == "POST" and form.is_valid():
        try:
            device = code_verify(user=user, code=form.cleaned_data["code"])
        except ServiceError as exc:
            form.add_error("code", exc.message)
            if isinstance(exc, RateLimited):
                status = exc.status
                response_headers["Retry-After"] = str(exc.retry_after)
        else:
            _verified(request, device)
            return redirect(next_url)
    response = render(
        request, "two_factor_verify.html", {"form": form, "next": next_url}, status=status
    )
    for name, value in response_headers.items():
        response[name] = value
    return response


@login_required
def two_factor_enrol(request: HttpRequest) -> HttpResponse:
    """Turn on two-factor sign-in: a QR code (server-rendered SVG) and the secret as
    text for the authenticator app, confirmed by one valid code; then the backup codes,
    shown this once. Required users land here from sign-in; anyone may come voluntarily."""
    user = _signed_in_user(request)
    next_url = _safe_next(request)
    state = session_state(user, request.session)
    if state is SessionState.NEEDS_CODE:
        return redirect(next_step_url(state, next_url) or next_url)
    if state is SessionState.VERIFIED:
        return render(request, "two_factor_on.html", {"next": next_url})
    device = totp_device_for_enrolment(user=user)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device, backup_codes = totp_enrolment_confirm(user=user, code=form.cleaned_data["code"])
        except ServiceError as exc:
            form.add_error("code", exc.message)
            status = exc.status if isinstance(exc, RateLimited) else 200
        else:
            _verified(request, device)
            return render(
                request,
                "two_factor_done.html",
                {"backup_codes": backup_codes, "next": next_url},
            )
    secret = b32encode(device.bin_key).decode()
    qr_svg = segno.make_qr(device.config_url, error="m").svg_inline(
        scale=4, dark="#000", light="#fff"
    )
    context = {
        "form": form,
        "next": next_url,
        "required": state is SessionState.NEEDS_ENROLMENT,
        # segno writes the SVG itself (paths only, no script): safe to embed as it is.
        "qr_svg": mark_safe(qr_svg),  # noqa: S308
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
    }
    return render(request, "two_factor_enrol.html", context, status=status)


class ExchangePasswordChangeView(PasswordChangeView):
    """Password change. Django keeps this session signed in (with a new key) and signs
    out the user's other sessions at their next request; their open sockets, this
    session's included, close at once (the page's socket reconnects)."""

    template_name = "password_change.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("catalogue")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        close_user_sockets(form.user.pk)
        return response
