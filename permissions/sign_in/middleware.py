"""Sign-in policy for every HTTP request of a signed-in session.

- A session older than EXCHANGE_SESSION_MAX_HOURS since its sign-in is signed out
  (and its sockets closed), however active it has been.
- A session that has passed the password but not the code its user needs is sent to the
  code step (or to enrolment) from every page. The JSON API is left to its own
  authentication (exchange.api), which answers 401 `two_factor_required` instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from permissions.models import User
from permissions.sign_in.sessions import session_too_old, sign_out
from permissions.sign_in.two_factor import session_state
from permissions.sign_in.views import next_step_url

OPEN_PAGES = ("login", "logout", "two_factor_verify", "two_factor_enrol")


class SignInPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _is_open(self, path: str) -> bool:
        if path.startswith(("/api/", "/" + settings.STATIC_URL.lstrip("/"))):
            return True
        return path in {reverse(name) for name in OPEN_PAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if isinstance(user, User) and user.is_authenticated:
            if session_too_old(request.session):
                sign_out(request)
            elif not self._is_open(request.path_info):
                step = next_step_url(session_state(user, request.session), request.get_full_path())
                if step:
                    return HttpResponseRedirect(step)
        return self.get_response(request)
