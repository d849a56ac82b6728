"""The ninja API root at /api/v1/: authentication, error shapes, and the routers.

Every error leaves as SPEC §3's `{"error": {"code", "message"}}` with its status, whether
it comes from a service, from input validation, from authentication or from a bug.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer, SessionAuth

from audit.api import router as audit_router
from channels_app.attachments.api import router as attachments_router
from channels_app.documents.api import router as documents_router
from channels_app.keys.api import router as keys_router
from channels_app.messages.api import router as channels_router
from channels_app.reports.api import router as reports_router
from exchange.kernel.errors import RateLimited, ServiceError, TwoFactorRequired, Unavailable
from exchange.kernel.json_input import loads_object
from exchange.kernel.ratelimit import ApiWriteThrottle
from exchange.openapi import with_error_responses
from permissions.institutions.api import router as institution_router
from permissions.membership.api import router as moderation_router
from permissions.people.api import router as people_router
from permissions.sign_in.tokens import token_authenticate
from permissions.sign_in.two_factor import session_state

logger = logging.getLogger(__name__)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class StrictJSONParser(Parser):
    """JSON bodies decoded by exchange.kernel.json_input: the same refusals as the socket's."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return loads_object(request.body)


class ExchangeAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        return with_error_responses(super().get_openapi_schema(*args, **kwargs))


class ActiveSession(SessionAuth):
    """The browser session, once it has passed every factor its user needs: a session
    that has only passed the password is told 401 `two_factor_required`."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return None
        if not session_state(user, request.session).passes:
            raise TwoFactorRequired(
                "This session has passed the password only: enter your one-time code "
                "at /two-factor/ first."
            )
        return user


api = ExchangeAPI(
    title="Exchange API",
    version="1",
    description="Secure information exchange between law-enforcement and judicial "
    "institutions. The contract is SPEC.md; this document is generated from the code. "
    "Routes beyond SPEC.md are described in docs/: the focal points' /institutions/{slug}/… "
    "routes (users, invitations, deactivation, recertification) in docs/moderation.md.",
    auth=[BearerToken(), ActiveSession()],
    urls_namespace="api-v1",
    docs_url="/docs",
    # Per-user budget of writes (exchange/kernel/ratelimit.py); reads are not counted.
    throttle=[ApiWriteThrottle()],
    parser=StrictJSONParser(),
)
api.add_router("", people_router)
api.add_router("", channels_router)
api.add_router("", keys_router)
api.add_router("", attachments_router)
api.add_router("", documents_router)
api.add_router("", moderation_router)
api.add_router("", reports_router)
api.add_router("", audit_router)
api.add_router("", institution_router)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, **extra: Any
) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message, **extra}}, status=status
    )


@api.exception_handler(ServiceError)
def on_service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    response = api.create_response(request, {"error": exc.as_dict()}, status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}
_PARAMETER_NAMES = {"payload", "page", "filters"}


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # An unknown field is named first: it is a mass-assignment attempt or a client bug,
    # and "field required" for another field would hide it.
    unknown = [e for e in exc.errors if e.get("type") == "extra_forbidden"]
    first = (unknown or exc.errors or [{}])[0]
    location = [str(part) for part in first.get("loc", [])]
    # ninja prefixes where the value came from and the parameter's name; keep the field.
    if location and location[0] in _LOCATIONS:
        location = location[1:]
    if location and location[0] in _PARAMETER_NAMES:
        location = location[1:]
    field = ".".join(location) or None
    message = first.get("msg", "Invalid input.")
    extra = {"field": field} if field else {}
    return error_response(
        request, 400, "bad_request", f"{field}: {message}" if field else message, **extra
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, 401, "unauthenticated", "Sign in or send a valid bearer token.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, ServiceError):
        # ninja wraps what the body parser raised; the parser's reason is the useful one.
        return on_service_error(request, exc.__cause__)
    codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Throttled)
def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """A throttle of exchange.kernel.ratelimit refused the request; ninja adds Retry-After."""
    retry_after = math.ceil(exc.wait) if exc.wait is not None else 1
    return error_response(
        request,
        429,
        "rate_limited",
        f"Too many requests; try again in {retry_after} s.",
        retry_after=retry_after,
    )


@api.exception_handler(RequestDataTooBig)
def on_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """What is read into memory is bounded: a JSON body, or a form's text fields together
    (its files are spooled to disk and bounded by EXCHANGE_MAX_UPLOAD_MB instead)."""
    kib = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
    if request.content_type == "multipart/form-data":
        message = f"A form's text fields are at most {kib} KiB together."
    else:
        message = f"A JSON request body is at most {kib} KiB."
    return error_response(request, 413, "too_large", message)


@api.exception_handler(MultiPartParserError)
def on_malformed_form(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """Django's parser refuses a multipart body it cannot read (no or an overlong
    boundary, a broken part) when ninja first reads the form: the client's error."""
    return error_response(
        request, 400, "bad_request", "The multipart body is malformed (its boundary or a part)."
    )


@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
def on_too_many_parts(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Django refuses a form with more parts than DATA_UPLOAD_MAX_NUMBER_FIELDS / _FILES
    when ninja first reads request.POST or FILES; a client's error, not ours (was 500).
    Raised before any file is kept, so nothing is stored."""
    fields, files = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS, settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return error_response(
        request,
        400,
        "bad_request",
        f"Too many form parts: at most {fields} fields and {files} files.",
    )


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.warning("Database unavailable on %s %s", request.method, request.path, exc_info=True)
    return on_service_error(request, Unavailable("The database is unavailable; try again shortly."))


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(request, 500, "server_error", "Something went wrong on our side.")
