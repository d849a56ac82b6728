"""The API answers over HTTPS only, once HTTPS is required (ASVS 5.0 4.1.2).

Pages are redirected from http:// to https:// by SecurityMiddleware. An API client is
not: following such a redirect would hide the misconfiguration, and the client would go
on sending its bearer token in clear on every first request. It gets a clear error
instead, in SPEC's error shape.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class ApiOverHttpsOnly:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        insecure_api = request.path.startswith("/api/") and not request.is_secure()
        if settings.SECURE_SSL_REDIRECT and insecure_api:
            message = "The API answers over HTTPS only."
            return JsonResponse({"error": {"code": "forbidden", "message": message}}, status=403)
        return self.get_response(request)
