"""The hostile-input tests send hundreds of refused requests and frames in a burst, on
purpose: lift the per-user rate limits for them (tests/test_rate_limits.py tests those)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def generous_rate_limits(settings: Any) -> None:
    settings.RATE_API_WRITES = "100000/second"
    settings.RATE_WS_FRAMES = "100000/second"
    settings.RATE_UPLOADS = "100000/second"
