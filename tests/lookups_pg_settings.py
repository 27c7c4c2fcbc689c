"""tests.settings on PostgreSQL, for the suites rerun there (tests/suites.py: run_on_postgresql)."""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("AUTHZGUARD_LOOKUPS_PG_NAME", "authzguard_lookups"),
        "HOST": os.environ.get("AUTHZGUARD_TEST_PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("AUTHZGUARD_TEST_PGPORT", "5432"),
        "USER": os.environ.get("AUTHZGUARD_TEST_PGUSER", "postgres"),
    }
}
