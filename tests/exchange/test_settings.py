"""Settings come from the environment through typed readers that refuse bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from exchange.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]


def settings_of(env: dict[str, str], expression: str) -> subprocess.CompletedProcess[str]:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "exchange.settings", **env},
    )


def test_the_readers_refuse_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BOOL", "maybe")
    monkeypatch.setenv("X_INT", "ten")
    monkeypatch.setenv("X_LIST", "a,,b")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_BOOL")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_INT", 1)
    with pytest.raises(ImproperlyConfigured):
        env_list("X_LIST", [])
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_INT", 1, minimum=1)


def test_the_readers_give_defaults_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_LIST", "a.example, b.example")
    assert env_bool("X_BOOL") is True
    assert env_bool("X_UNSET", True) is True
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    assert env_int("X_UNSET", 7) == 7


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = settings_of({"EXCHANGE_DEBUG": "0"}, "settings.SECRET_KEY")
    assert result.returncode != 0
    assert "EXCHANGE_SECRET_KEY is required" in result.stderr


def test_the_embedded_default_is_sqlite_and_the_in_memory_layer() -> None:
    result = settings_of(
        {"EXCHANGE_DEBUG": "1"},
        "settings.DATABASES['default']['ENGINE'], settings.CHANNEL_LAYERS['default']['BACKEND']",
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout and "InMemoryChannelLayer" in result.stdout


def test_urls_switch_to_postgresql_and_redis() -> None:
    result = settings_of(
        {
            "EXCHANGE_SECRET_KEY": "k" * 50,
            "DATABASE_URL": "postgres://u@db.internal:5432/exchange",
            "REDIS_URL": "redis://cache.internal:6379/0",
        },
        "settings.DATABASES['default']['ENGINE'], settings.CHANNEL_LAYERS['default']['BACKEND']",
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout and "RedisPubSubChannelLayer" in result.stdout


def test_prepared_statements_are_on_for_postgresql_unless_a_pooler_forbids_them() -> None:
    env = {"EXCHANGE_SECRET_KEY": "k" * 50, "DATABASE_URL": "postgres://u@db.internal/x"}
    expression = "settings.DATABASES['default']['OPTIONS']['prepare_threshold']"
    assert settings_of(env, expression).stdout.strip() == "2"
    assert settings_of({**env, "EXCHANGE_DB_PREPARED": "0"}, expression).stdout.strip() == "None"


def test_a_typo_in_a_boolean_stops_the_process() -> None:
    result = settings_of({"EXCHANGE_DEBUG": "ture"}, "settings.DEBUG")
    assert result.returncode != 0
    assert "EXCHANGE_DEBUG" in result.stderr


def test_sign_in_limits_and_session_lifetimes_come_from_the_environment() -> None:
    result = settings_of(
        {
            "EXCHANGE_SECRET_KEY": "k" * 50,
            "EXCHANGE_LOGIN_FAILURE_LIMIT": "3",
            "EXCHANGE_LOGIN_COOLOFF_MINUTES": "45",
            "EXCHANGE_SESSION_IDLE_MINUTES": "10",
            "EXCHANGE_SESSION_MAX_HOURS": "8",
        },
        "settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds(),"
        " settings.SESSION_COOKIE_AGE, settings.SESSION_SAVE_EVERY_REQUEST,"
        " settings.SESSION_MAX_HOURS, settings.AXES_LOCKOUT_PARAMETERS,"
        " settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "3 2700.0 600 True 8 ['username', ['ip_address', 'username']] True True"
    )


def test_throttling_of_one_time_codes_cannot_be_switched_off() -> None:
    result = settings_of({"EXCHANGE_DEBUG": "1", "EXCHANGE_OTP_THROTTLE_FACTOR": "0"}, "1")
    assert result.returncode != 0
    assert "EXCHANGE_OTP_THROTTLE_FACTOR" in result.stderr


CLIENT_ADDRESS = (
    "from django.test import RequestFactory; from axes.helpers import get_client_ip_address;"
    " print(get_client_ip_address(RequestFactory().get('/', REMOTE_ADDR='10.0.0.2',"
    " HTTP_X_FORWARDED_FOR='8.8.8.8, 81.2.69.142')))"
)


def address_seen(proxy_count: str) -> str:
    code = f"import django; django.setup(); {CLIENT_ADDRESS}"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "exchange.settings",
            "EXCHANGE_DEBUG": "1",
            "EXCHANGE_PROXY_COUNT": proxy_count,
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_a_proxy_a_forged_forwarded_for_header_is_ignored() -> None:
    assert address_seen("0") == "10.0.0.2"


def test_behind_one_proxy_the_address_it_appended_is_the_client() -> None:
    # The client sent "X-Forwarded-For: 8.8.8.8"; nginx appended the address it saw.
    assert address_seen("1") == "81.2.69.142"


def test_redis_sentinels_configure_the_layer_the_limits_and_health_alike() -> None:
    env = {
        "EXCHANGE_SECRET_KEY": "k" * 50,
        "REDIS_SENTINELS": "s1.internal:26379, s2.internal:26379,[::1]:26380",
        "REDIS_SENTINEL_MASTER": "exchange-main",
        "REDIS_SENTINEL_DB": "2",
    }
    host = "settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]"
    result = settings_of(
        env, f"{host}['sentinels'], {host}['master_name'], {host}['db'], "
        "settings.REDIS.limits_uri(asynchronous=True)",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "[('s1.internal', 26379), ('s2.internal', 26379), ('::1', 26380)] exchange-main 2 "
        "async+redis+sentinel://s1.internal:26379,s2.internal:26379,[::1]:26380/exchange-main"
    )


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"REDIS_SENTINELS": "s1.internal"}, "is not host:port"),
        (
            {"REDIS_SENTINELS": "s1:26379", "REDIS_URL": "redis://r:6379/0"},
            "Set REDIS_URL or REDIS_SENTINELS, not both.",
        ),
    ],
)
def test_a_wrong_redis_setting_stops_the_process_saying_why(env: dict[str, str], said: str) -> None:
    result = settings_of({"EXCHANGE_SECRET_KEY": "k" * 50, **env}, "settings.REDIS")
    assert result.returncode != 0
    assert said in result.stderr
