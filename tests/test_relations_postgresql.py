"""Relations in attributes on PostgreSQL: ``tests/test_relations.py`` and
``tests/test_attribute_paths.py`` again, in their own process, against the real server
(under CI=true it must be there)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.suites import run_suite
from tests.test_lookups_postgresql import SETTINGS, _engine


@pytest.mark.postgres
def test_relations_on_postgresql(postgres_service: dict[str, Any]) -> None:
    env = {
        "AUTHZGUARD_TEST_PGHOST": str(postgres_service["HOST"]),
        "AUTHZGUARD_TEST_PGPORT": str(postgres_service["PORT"]),
        "AUTHZGUARD_LOOKUPS_PG_NAME": f"authzguard_relations_{os.getpid()}",
    }
    report = run_suite(["tests/test_relations.py", "tests/test_attribute_paths.py"], SETTINGS, env)
    assert _engine(env) == "django.db.backends.postgresql", report
