"""Relations in attributes on PostgreSQL: ``tests/test_relations.py`` and
``tests/test_attribute_paths.py`` again, in their own process, against the real server
(under CI=true it must be there)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.suites import run_on_postgresql


@pytest.mark.postgres
def test_relations_on_postgresql(postgres_service: dict[str, Any]) -> None:
    run_on_postgresql(
        "relations", ["tests/test_relations.py", "tests/test_attribute_paths.py"], postgres_service
    )
