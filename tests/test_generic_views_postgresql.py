"""The generic views of the example app on PostgreSQL: ``tests/test_generic_views.py`` and
``tests/test_view_checks.py`` again, in their own process, against the real server
(under CI=true it must be there)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.suites import run_on_postgresql


@pytest.mark.postgres
def test_generic_views_on_postgresql(postgres_service: dict[str, Any]) -> None:
    run_on_postgresql(
        "generic_views",
        ["tests/test_generic_views.py", "tests/test_view_checks.py"],
        postgres_service,
    )
