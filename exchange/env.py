"""Typed readers for environment variables.

Each reader returns the default when the variable is unset or empty, and raises
ImproperlyConfigured on a value it cannot read: a typo in production must stop the
process at start-up, not quietly switch a security setting off.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer; got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
        raise ImproperlyConfigured(f"{name} must be {bounds}; got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    if not raw:
        return list(default)
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name} is a comma-separated list with no empty items")
    return items


def env_rates(name: str, default: str) -> str:
    """Rate limits in the `limits` notation, several joined by ';' ("30/second;600/minute").

    Parsed here once so that a typo stops the process at start-up rather than at the
    first request that would have been limited."""
    from limits import parse_many  # imported here: env.py is read before Django is set up

    raw = env_str(name, default)
    try:
        items = parse_many(raw)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise ImproperlyConfigured(
            f"{name} is one or more rates like '30/second;600/minute'; got {raw!r}"
        )
    return raw
