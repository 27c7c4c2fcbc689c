"""The example app"s DRF viewsets on PostgreSQL: ``tests/test_drf_viewsets.py`` again, in
its own process, against the real server (under CI=true it must be there)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.suites import run_on_postgresql


@pytest.mark.postgres
def test_drf_viewsets_on_postgresql(postgres_service: dict[str, Any]) -> None:
    run_on_postgresql("drf_viewsets", ["tests/test_drf_viewsets.py"], postgres_service)
