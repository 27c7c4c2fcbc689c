"""Django's admin following the policy: tests/admin_suite.py in a process of its own,
under tests/admin_settings.py (only there is django.contrib.admin installed)."""

from __future__ import annotations

from tests.suites import run_suite


def test_admin_suite() -> None:
    run_suite(["tests/admin_suite.py"], "tests.admin_settings", {})
