"""GET /healthz (SPEC §3): three words, 200 only when all are healthy.

In-process on the embedded mode, then through a real server on a private Redis that the
test stops, as an operator's monitoring would see a worker lose Redis."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import AsyncClient, Client

from tests.live.servers import LiveServer, daphne_server, free_port


@pytest.mark.django_db
async def test_the_embedded_mode_is_healthy_with_no_redis_to_use() -> None:
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "not_used", "layer": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_healthz_needs_no_sign_in_and_takes_no_writes(settings: Any) -> None:
    settings.DEBUG = False
    assert Client().get("/healthz").status_code == 200  # no redirect to https or to sign-in
    assert Client().post("/healthz").status_code == 405


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while (
        subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
        ).stdout.strip()
        != b"PONG"
    ):
        assert time.monotonic() < deadline, "the private Redis did not start"
        time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait()


def health_of(server: LiveServer) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"{server.http}/healthz", timeout=15) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.production
@pytest.mark.django_db(transaction=True)
def test_a_worker_that_loses_redis_says_so_with_503_and_serves_on(
    private_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, redis = private_redis
    with daphne_server(redis_url=url) as server:
        assert health_of(server) == (200, {"database": "ok", "redis": "ok", "layer": "ok"})
        redis.kill()
        redis.wait()
        status, parts = health_of(server)
        assert status == 503
        assert parts["database"] == "ok"
        assert parts["redis"] == "unavailable"
        assert parts["layer"] in {"unavailable", "timeout"}
        assert "Exception inside application" not in server.log_text()
