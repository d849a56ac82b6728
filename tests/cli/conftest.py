"""A real daphne per test (the live servers' rule: a server must not outlive the database
flush between transactional tests), with its rate limits lifted and its file store in the
test's own directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.kit import SERVER_ENV
from tests.live.servers import LiveServer, daphne_server


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    path = tmp_path / "media"
    path.mkdir()
    return path


@pytest.fixture
def server(transactional_db: None, media_root: Path) -> Iterator[LiveServer]:
    with daphne_server(env={**SERVER_ENV, "EXCHANGE_MEDIA_ROOT": str(media_root)}) as live:
        yield live
