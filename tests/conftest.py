"""Shared fixtures. Service fixtures fail under CI=true and skip locally when absent."""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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
    return {"HOST": host, "PORT": port, "NAME": os.environ.get("AUTHZGUARD_TEST_PGDATABASE", "test")}


@pytest.fixture
def redis_url() -> str:
    host = os.environ.get("AUTHZGUARD_TEST_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("AUTHZGUARD_TEST_REDIS_PORT", "6379"))
    require_service("Redis", host, port)
    return f"redis://{host}:{port}/15"
