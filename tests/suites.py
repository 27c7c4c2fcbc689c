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

from tests import soak

ROOT = Path(__file__).resolve().parent.parent


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
