"""Running a set of test files in a pytest process of their own, with their own settings.

For suites that need another database (PostgreSQL) than the main run's SQLite: the
process must pass, and must skip nothing (under CI every service is required).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests import soak

ROOT = Path(__file__).resolve().parent.parent

#: tests.settings on the PostgreSQL service (the database name comes from the environment).
PG_SETTINGS = "tests.lookups_pg_settings"


def run_suite(
    files: Sequence[str], settings_module: str, env: Mapping[str, str], *extra: str
) -> str:
    """Run ``files`` with ``--ds=settings_module`` and ``env`` added; return the report."""
    environment = {**os.environ, **env}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *files,
            f"--ds={settings_module}",
            "--create-db",
            "-p",
            "no:cacheprovider",
            "-q",
            *extra,
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=soak.seconds(300),
        check=False,
    )
    report = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert " passed" in result.stdout, report
    assert "skipped" not in result.stdout, report
    return report


def run_on_postgresql(name: str, files: Sequence[str], postgres_service: Mapping[str, Any]) -> str:
    """Run ``files`` on the PostgreSQL service, in a database of their own named after ``name``."""
    env = {
        "AUTHZGUARD_TEST_PGHOST": str(postgres_service["HOST"]),
        "AUTHZGUARD_TEST_PGPORT": str(postgres_service["PORT"]),
        "AUTHZGUARD_LOOKUPS_PG_NAME": f"authzguard_{name}_{os.getpid()}",
    }
    report = run_suite(files, PG_SETTINGS, env)
    assert _database_engine(PG_SETTINGS, env) == "django.db.backends.postgresql", report
    return report


def _database_engine(settings_module: str, env: Mapping[str, str]) -> str:
    """The engine those settings name (guards against a silent SQLite run)."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = {settings_module!r}; "
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
