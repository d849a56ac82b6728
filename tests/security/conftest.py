"""The hostile-input tests send hundreds of refused requests and frames in a burst, on
purpose: the per-user rate limits are lifted for all of them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _generous_rate_limits(generous_rate_limits: None) -> None:
    """Every test here runs with the root conftest's lifted limits."""
