"""List filtering on PostgreSQL: ``tests/test_filtering.py`` and the equivalence property
(``tests/test_filtering_properties.py``) again, in their own process, against the real
server (under CI=true it must be there)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.suites import run_suite
from tests.test_lookups_postgresql import SETTINGS, _engine


@pytest.mark.postgres
@pytest.mark.property
def test_filtering_on_postgresql(postgres_service: dict[str, Any]) -> None:
    env = {
        "AUTHZGUARD_TEST_PGHOST": str(postgres_service["HOST"]),
        "AUTHZGUARD_TEST_PGPORT": str(postgres_service["PORT"]),
        "AUTHZGUARD_LOOKUPS_PG_NAME": f"authzguard_i12_filter_{os.getpid()}",
    }
    files = ["tests/test_filtering.py", "tests/test_filtering_properties.py"]
    report = run_suite(files, SETTINGS, env)
    assert _engine(env) == "django.db.backends.postgresql", report
