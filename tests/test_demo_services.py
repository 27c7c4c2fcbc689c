"""The demo on PostgreSQL with sessions in Redis, configured only through the environment.

``DATABASE_URL``, ``REDIS_URL`` and ``SESSION_ENGINE`` (plus ``DJANGO_DEBUG=0`` and
``DJANGO_ALLOWED_HOSTS``) are all it takes: the same site, the same policy, and a
deleted user's sessions disappear from Redis. Needs the services: fails under
``CI=true`` when they are absent, skips elsewhere.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.server import DemoClient, DemoServer, start_demo_server

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CACHE_SESSION_PREFIX = ":1:django.contrib.sessions.cache"


@pytest.fixture
def pg_database(postgres_service: dict[str, Any]) -> Iterator[str]:
    """A fresh database for one run of the demo (dropped afterwards); its URL."""
    import psycopg

    user = os.environ.get("AUTHZGUARD_TEST_PGUSER", "postgres")
    host, port = postgres_service["HOST"], postgres_service["PORT"]
    name = f"authzguard_demo_{secrets.token_hex(4)}"
    maintenance = f"host={host} port={port} user={user} dbname={postgres_service['NAME']}"
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_redis_demo(pg_database: str, redis_url: str, tmp_path: Path) -> Iterator[DemoServer]:
    server = start_demo_server(
        tmp_path,
        {
            "DATABASE_URL": pg_database,
            "REDIS_URL": redis_url,
            "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        },
    )
    yield server
    server.stop()


def test_the_demo_runs_on_postgresql_with_redis_sessions(
    pg_redis_demo: DemoServer, pg_database: str, redis_url: str
) -> None:
    import psycopg
    import redis

    store = redis.Redis.from_url(redis_url)
    ids = pg_redis_demo.seeded()
    base = pg_redis_demo.base_url

    bob = DemoClient(base).login("bob")
    alice = DemoClient(base).login("alice")
    admin = DemoClient(base).login("admin")
    bob_key = CACHE_SESSION_PREFIX + bob.cookies["sessionid"]
    assert store.exists(bob_key), "bob's session should live in Redis"
    with psycopg.connect(pg_database) as connection:
        (users,) = connection.execute("SELECT count(*) FROM auth_user").fetchone() or (0,)
        (db_sessions,) = connection.execute("SELECT count(*) FROM django_session").fetchone() or (
            0,
        )
    assert users == 3
    assert db_sessions == 0, "the cache engine must not write sessions to the database"

    # Insecure views are not mounted without DEMO_INSECURE=1, and no banner shows.
    assert alice.get("/insecure/sessions/end/").status == 404
    assert 'id="insecure-warning"' not in alice.get("/").text

    refused = alice.post("/sessions/end/", form={"email": "bob@example.com"})
    assert refused.status == 403
    assert bob.whoami() == {"authenticated": True, "username": "bob"}

    deleted = admin.post("/users/delete/", json_body={"id": ids["bob"]})
    assert deleted.status == 200
    assert deleted.json() == {"deleted": ids["bob"]}
    assert not store.exists(bob_key), "deleting bob must purge his session from Redis"
    assert bob.whoami() == {"authenticated": False, "username": None}
    assert admin.whoami() == {"authenticated": True, "username": "admin"}
