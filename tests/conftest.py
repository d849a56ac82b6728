"""Shared fixtures: one channel and the four standing people every route is tested with.

- `owner`: a moderator of the channel, from a participant institution
- `member`: a participant of another user of the same institution
- `observer`: a user of an institution admitted as observer
- `outsider`: a user of an institution not admitted
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from channels_app.models import Channel
from channels_app.socket.server_frames import check_server_frame
from exchange.kernel import ratelimit
from permissions.models import Institution, User
from tests import factories


@dataclass
class World:
    channel: Channel
    participant_institution: Institution
    observer_institution: Institution
    outsider_institution: Institution
    owner: User
    member: User
    observer: User
    outsider: User


@pytest.fixture
def world(db: None) -> World:
    channel = factories.make_channel("ops")
    participants = factories.make_institution("guardia-civil", country="ES")
    observers = factories.make_institution("policia-federal", country="BR")
    outsiders = factories.make_institution("carabineros", country="CL")
    factories.admit(channel, participants, "participant")
    factories.admit(channel, observers, "observer")
    owner = factories.make_user("olivia", institution=participants)
    factories.make_moderator(channel, owner)
    return World(
        channel=channel,
        participant_institution=participants,
        observer_institution=observers,
        outsider_institution=outsiders,
        owner=owner,
        member=factories.make_user("mateo", institution=participants),
        observer=factories.make_user("oscar", institution=observers),
        outsider=factories.make_user("ursula", institution=outsiders),
    )


@pytest.fixture(autouse=True)
def _frames_match_their_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON frame a test receives from the socket is checked, strictly, against its
    definition in channels_app.socket.server_frames (as Zulip checks its events against
    its schema): a frame that drifts from it fails the test that received it."""
    receive_json_from = WebsocketCommunicator.receive_json_from

    async def checked(self: WebsocketCommunicator, timeout: float = 1) -> Any:
        frame = await receive_json_from(self, timeout)
        check_server_frame(frame)
        return frame

    monkeypatch.setattr(WebsocketCommunicator, "receive_json_from", checked)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Counters and socket slots live in this process's memory (no REDIS_URL here): each
    test starts with none, as user ids repeat from one test database to the next."""
    ratelimit.reset()


@pytest.fixture
def generous_rate_limits(settings: Any) -> None:
    """Lift the per-user rate limits, for tests that send hundreds of refused requests and
    frames in a burst on purpose (tests/exchange/kernel/test_rate_limits.py tests them)."""
    settings.RATE_API_WRITES = "100000/second"
    settings.RATE_WS_FRAMES = "100000/second"
    settings.RATE_UPLOADS = "100000/second"


def api_client(user: User | None) -> Client:
    """A test client signed in with a bearer token (no CSRF), or anonymous."""
    if user is None:
        return Client()
    return Client(headers={"Authorization": f"Bearer {factories.token_for(user)}"})


def service_required(host: str, port: int, name: str) -> None:
    """Fail under CI, skip elsewhere, when a production-path service does not answer."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError:
        message = f"{name} at {host}:{port} does not answer"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: the production path must be tested)")
        pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("EXCHANGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    service_required("127.0.0.1", 6379, "Redis")
    return url


@pytest.fixture(scope="session", autouse=True)
def _close_database_pools(django_db_setup: None, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Give back pooled PostgreSQL connections before the test database is dropped, and
    end the sessions of server processes the tests started: PostgreSQL ends a backend a
    moment after its client process is gone, and DROP DATABASE refuses while it lives."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            connection = connections[alias]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
            close_pool = getattr(connection, "close_pool", None)
            if close_pool is not None:
                close_pool()
