"""schemathesis against the API's own OpenAPI document, in process through Django's WSGI
handler (the same middleware, auth and views as under daphne), signed in as a member with
a bearer token: no 5xx anywhere, and every response (errors included) matches the
document. Examples are bounded and derandomised, so a run is the same run every time.

`positive_data_acceptance` (a request the document allows must not get a 400) is left
out: the document cannot say that a `public_key` must be a valid age recipient, that a
slug must name a channel, or that `2.0` is not an integer id (JSON Schema calls it one;
the API takes integers strictly). Every other check runs, including that requests the
document forbids are refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests import factories
from tests.conftest import World

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def member_headers(world: World) -> Iterator[dict[str, str]]:
    """A member with something to find: a message, so ids and slugs lead somewhere.

    Django's handler closes the database connection at each request's start and end;
    the test's transaction lives on that connection, so (as Django's own test client
    does) the handler is asked not to while the test runs."""
    factories.post(world.owner, world.channel, f"seed {uuid.uuid4()}")
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"Authorization": f"Bearer {factories.token_for(world.member)}"}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)  # fmt: skip
def test_the_api_answers_every_generated_request_as_its_document_says(
    case: Any, member_headers: dict[str, str]
) -> None:
    case.call_and_validate(headers=member_headers, excluded_checks=[positive_data_acceptance])
