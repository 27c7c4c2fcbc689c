"""Session lifecycle against the real services: Redis here, PostgreSQL in its own run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from authzguard.sessions import purge_user_sessions
from tests.sessions_support import (
    ENGINES,
    is_signed_in,
    make_user,
    session_key,
    session_settings,
    signed_in,
    store,
)
from tests.suites import run_suite

__all__ = ["session_settings"]  # fixtures, used by name


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"authzguard-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def _redis_keys(redis_url: str, prefix: str) -> int:
    import redis

    return len(list(redis.Redis.from_url(redis_url).scan_iter(match=f"{prefix}:*")))


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.parametrize("engine", ["cache", "cached_db"])
def test_redis_backed_sessions_are_purged(
    session_settings: Any, redis_url: str, redis_prefix: str, engine: str
) -> None:
    session_settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": redis_prefix,
        },
    }
    session_settings.SESSION_CACHE_ALIAS = "sessions"
    session_settings.SESSION_ENGINE = ENGINES[engine]
    alice, bob = make_user("alice"), make_user("bob")
    alice_browser, alice_phone, bob_browser = signed_in(alice), signed_in(alice), signed_in(bob)
    assert is_signed_in(alice_browser)
    assert _redis_keys(redis_url, redis_prefix) == 3

    assert purge_user_sessions(alice) == 2

    assert _redis_keys(redis_url, redis_prefix) == 1
    assert not store().exists(session_key(alice_browser))
    assert not is_signed_in(alice_browser)
    assert not is_signed_in(alice_phone)
    assert is_signed_in(bob_browser)


@pytest.mark.postgres
@pytest.mark.redis
def test_postgresql_suite_in_its_own_process(
    postgres_service: dict[str, Any], redis_url: str, redis_prefix: str
) -> None:
    """Several processes and racing threads need a real server: run that suite against it."""
    env = {
        "AUTHZGUARD_TEST_PGHOST": str(postgres_service["HOST"]),
        "AUTHZGUARD_TEST_PGPORT": str(postgres_service["PORT"]),
        # Per run: several suites may run at once against the same server.
        "AUTHZGUARD_SESSIONS_PG_NAME": f"authzguard_sessions_{os.getpid()}",
        "AUTHZGUARD_SESSIONS_REDIS_URL": redis_url,
        "AUTHZGUARD_SESSIONS_REDIS_PREFIX": redis_prefix,
    }
    report = run_suite(["tests/sessions_pg_suite.py"], "tests.sessions_pg_settings", env, "-s")
    print(report)
