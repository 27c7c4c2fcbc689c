"""List filtering on PostgreSQL: ``tests/test_filtering.py`` and the equivalence property
(``tests/test_filtering_properties.py``) again, in their own process, against the real
server (under CI=true it must be there)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.suites import run_on_postgresql


@pytest.mark.postgres
@pytest.mark.property
def test_filtering_on_postgresql(postgres_service: dict[str, Any]) -> None:
    run_on_postgresql(
        "filtering",
        ["tests/test_filtering.py", "tests/test_filtering_properties.py"],
        postgres_service,
    )
