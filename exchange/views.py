"""Error pages: JSON under /api/, HTML elsewhere."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.views import defaults
from django.views.csrf import csrf_failure as html_csrf_failure
from django.views.decorators.csrf import csrf_exempt


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "not_found", "message": "No such route."}}, status=404
        )
    return TemplateResponse(request, "404.html", status=404).render()


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: what Django refuses before any view runs (a Host header not in
    ALLOWED_HOSTS, another SuspiciousOperation). Only the path is read: the request's host
    may be the very thing refused."""
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "bad_request", "message": "The request was refused as malformed."}},
            status=400,
        )
    return defaults.bad_request(request, exception or Exception())


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: a PermissionDenied raised outside the API's own handlers."""
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "forbidden", "message": "You may not do this."}}, status=403
        )
    return defaults.permission_denied(request, exception or Exception())


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "server_error", "message": "Something went wrong on our side."}},
            status=500,
        )
    return HttpResponse("Something went wrong on our side.", status=500, content_type="text/plain")


@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """Unknown routes under /api/ answer in the API's error shape, DEBUG or not.

    Exempt from CSRF because it changes nothing and reads no credential: without the
    exemption CsrfViewMiddleware refused every POST/PUT/PATCH/DELETE here with its HTML
    403 page before this view ran, so an unknown route answered HTML, not SPEC's 404.
    """
    return not_found(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: under /api/ a refused request still gets SPEC §3's JSON error,
    whichever view Django's middleware refused it for; pages keep Django's HTML page."""
    if _wants_json(request):
        return JsonResponse(
            {"error": {"code": "forbidden", "message": "CSRF check failed."}}, status=403
        )
    return html_csrf_failure(request, reason)


class ApiErrorShapeMiddleware:
    """ninja answers a method a route does not take with a plain-text 405; under /api/ it
    becomes SPEC §3's error body, keeping the `Allow` header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and _wants_json(request):
            allowed = response.get("Allow", "")
            response = JsonResponse(
                {
                    "error": {
                        "code": "method_not_allowed",
                        "message": f"{request.method} is not allowed here; use {allowed}.",
                    }
                },
                status=405,
            )
            response["Allow"] = allowed
        return response
