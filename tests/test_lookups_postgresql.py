"""The target lookup on PostgreSQL: ``tests/test_lookups.py`` and the query-count tests,
run again in their own process against the real server (under CI=true it must be there)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.suites import ROOT, run_suite

SETTINGS = "tests.lookups_pg_settings"


@pytest.mark.postgres
def test_lookups_on_postgresql(postgres_service: dict[str, Any]) -> None:
    env = {
        "AUTHZGUARD_TEST_PGHOST": str(postgres_service["HOST"]),
        "AUTHZGUARD_TEST_PGPORT": str(postgres_service["PORT"]),
        "AUTHZGUARD_LOOKUPS_PG_NAME": f"authzguard_lookups_{os.getpid()}",
    }
    files = [
        "tests/test_lookups.py",
        "tests/test_performance_queries.py",
        "tests/test_resolvers_attributes.py",
    ]
    report = run_suite(files, SETTINGS, env)
    assert _engine(env) == "django.db.backends.postgresql", report


def _engine(env: dict[str, str]) -> str:
    """The engine those settings name (guards against a silent SQLite run)."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = {SETTINGS!r}; "
            "django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return probe.stdout.strip()
