"""The target lookup on PostgreSQL: ``tests/test_lookups.py`` and the query-count tests,
run again in their own process against the real server (under CI=true it must be there)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.suites import run_on_postgresql


@pytest.mark.postgres
def test_lookups_on_postgresql(postgres_service: dict[str, Any]) -> None:
    run_on_postgresql(
        "lookups",
        [
            "tests/test_lookups.py",
            "tests/test_performance_queries.py",
            "tests/test_resolvers_attributes.py",
        ],
        postgres_service,
    )
