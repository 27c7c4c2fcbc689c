"""Shared fixtures. Service fixtures fail under CI=true and skip locally when absent."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from tests.browser.server import DemoServer

# The example app's people and objects (tests/projectapp/fixtures.py).
pytest_plugins = ["tests.projectapp.fixtures"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Examples per property test (marker ``property``): bounded in `make test`; `make soak`
# sets HYPOTHESIS_PROFILE=soak. Loaded here, before the test modules build their settings.
settings.register_profile("test", max_examples=50)
settings.register_profile("soak", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "test"))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Fail under CI (a missing service is a broken run), skip locally with the reason."""
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: services are required)")
    pytest.skip(reason)


@pytest.fixture
def postgres_service() -> dict[str, str | int]:
    host = os.environ.get("AUTHZGUARD_TEST_PGHOST", "127.0.0.1")
    port = int(os.environ.get("AUTHZGUARD_TEST_PGPORT", "5432"))
    require_service("PostgreSQL", host, port)
    return {
        "HOST": host,
        "PORT": port,
        "NAME": os.environ.get("AUTHZGUARD_TEST_PGDATABASE", "test"),
    }


@pytest.fixture
def redis_url() -> str:
    host = os.environ.get("AUTHZGUARD_TEST_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("AUTHZGUARD_TEST_REDIS_PORT", "6379"))
    require_service("Redis", host, port)
    return f"redis://{host}:{port}/15"


# -- the demo site (tests/test_demo*.py, tests/browser/) ----------------------------------
# The demo is its own Django project: these fixtures run it out of process, with its own
# settings, so it never meets tests/settings.py.


@pytest.fixture(scope="session")
def demo_migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database of the demo, copied by each demo server (saves a migrate)."""
    from tests.browser.server import demo_environment, manage

    path = tmp_path_factory.mktemp("demo-template") / "migrated.sqlite3"
    manage(demo_environment({"DATABASE_URL": f"sqlite:///{path}"}), "migrate", "--noinput")
    return path


@pytest.fixture(scope="module")
def demo_server(
    tmp_path_factory: pytest.TempPathFactory, demo_migrated_sqlite: Path
) -> Iterator[DemoServer]:
    """The demo with ``DEMO_INSECURE=1`` (SQLite, database sessions), served for one module.

    Tests start with ``demo_server.seeded()``, which puts deleted accounts back.
    """
    from tests.browser.server import start_demo_server

    server = start_demo_server(
        tmp_path_factory.mktemp("demo"),
        {"DEMO_INSECURE": "1"},
        migrated_sqlite=demo_migrated_sqlite,
    )
    yield server
    server.stop()


# -- people of the enforcement tests (tests/policies/enforcement.yaml) --------------------


@pytest.fixture
def alice(db: None) -> Any:
    from django.contrib.auth.models import User

    return User.objects.create_user("alice", "alice@example.com", "pw")


@pytest.fixture
def bob(db: None) -> Any:
    from django.contrib.auth.models import User

    return User.objects.create_user("bob", "bob@example.com", "pw")


@pytest.fixture
def admin(db: None) -> Any:
    from django.contrib.auth.models import User

    return User.objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def carol(db: None) -> Any:
    """A member of the ``support`` group."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("carol", "carol@example.com", "pw")
    user.groups.add(Group.objects.create(name="support"))
    return user
