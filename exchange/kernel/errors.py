"""The errors a service may raise, shared by the HTTP API, the pages and the socket.

Each carries the SPEC §3 error code and HTTP status, so every edge turns the same
refusal into the same answer: `{"error": {"code", "message"}}` over HTTP, an `error`
frame over the WebSocket.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class BadRequest(ServiceError):
    code = "bad_request"
    status = 400


class NotAuthenticated(ServiceError):
    code = "unauthenticated"
    status = 401


class TwoFactorRequired(ServiceError):
    """Signed in with the password only, by someone whose sign-in needs a code too."""

    code = "two_factor_required"
    status = 401


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403


class NotFound(ServiceError):
    code = "not_found"
    status = 404


class Conflict(ServiceError):
    code = "conflict"
    status = 409


class TooLarge(ServiceError):
    code = "too_large"
    status = 413


class RateLimited(ServiceError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, **extra: object) -> None:
        super().__init__(message, field=None, **extra)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """A backing service (the database) cannot be reached: nothing was done; the client
    may send the same request again (a message with the same `client_id`) later."""

    code = "unavailable"
    status = 503
