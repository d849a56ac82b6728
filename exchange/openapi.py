"""The error answers of SPEC §3, written into the generated OpenAPI document.

ninja documents only the success responses a route declares; yet every route can answer
400 (bad input), 401, 403, 404, 409, 413, 429 and 503 with the same error body. Clients
generated from the document, and schemathesis checking the server against it, need to
know that: the document describes what the server really sends.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA_NAME = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "bad_request, forbidden, …"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the input that was refused"},
            },
            # A 409 on epochs adds `missing` and `unexpected` (SPEC §3).
            "additionalProperties": True,
        }
    },
}
ERROR_STATUSES: dict[str, str] = {
    "400": "Bad input; `field` names it",
    "401": "Not signed in, or the bearer token is unknown, expired or revoked",
    "403": "Signed in, but not allowed",
    "404": "No such thing, or not visible to the caller",
    "409": "Conflicts with the current state",
    "413": "Too large",
    "429": "Rate limited; see Retry-After",
    "503": "A backing service (the database) is unavailable; retry later",
}


def with_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the shared error body, and each error status, to every operation of `schema`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return schema
