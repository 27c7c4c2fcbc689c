"""The short load-and-fault run (``python -m tests.loadtest --short``), in `make test`.

The demo under gunicorn (2 workers) on a PostgreSQL and a Redis of the run's own; the
run restarts PostgreSQL, pauses Redis and breaks the policy file under a mixed load, and
exits 0 only when every answer matched the policy's decision, with no 500, no lost
session and no live session of a deleted user. ``make loadtest`` is the long form.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.browser.server import REPO_ROOT
from tests.conftest import IN_CI
from tests.loadtest.__main__ import MISSING


def test_the_short_load_and_fault_run_passes() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tests.loadtest", "--short"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode == MISSING:
        if IN_CI:
            pytest.fail(f"CI=true: the load-and-fault run needs its binaries: {run.stderr}")
        pytest.skip(run.stderr.strip())
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    table = run.stdout
    assert "| requests " in table and "| decisions checked " in table
    assert "fault: PostgreSQL restart" in table and "fault: Redis paused" in table
    assert table.rstrip().endswith("PASS")
