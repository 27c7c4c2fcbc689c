"""The compiled lookup on PostgreSQL: ``tests/test_lookups.py`` and the query-count tests,
run again in their own process against the real server (under CI=true it must be there)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres
def test_lookups_on_postgresql(postgres_service: dict[str, Any]) -> None:
    env = {
        **os.environ,
        "AUTHZGUARD_TEST_PGHOST": str(postgres_service["HOST"]),
        "AUTHZGUARD_TEST_PGPORT": str(postgres_service["PORT"]),
        "AUTHZGUARD_LOOKUPS_PG_NAME": f"authzguard_lookups_{os.getpid()}",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_lookups.py",
            "tests/test_performance_queries.py",
            "tests/test_resolvers_attributes.py",
            "--ds=tests.lookups_pg_settings",
            "--create-db",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert " passed" in result.stdout, report
    assert "skipped" not in result.stdout, report
    assert "postgresql" in _engine(env), report


def _engine(env: dict[str, str]) -> str:
    """The engine the subprocess's settings name (guards against a silent SQLite run)."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='tests.lookups_pg_settings';"
            "django.setup(); from django.conf import settings;"
            "print(settings.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return probe.stdout.strip()
