"""Settings of the reload worker processes (tests/reload_worker.py), from the environment.

Everything the workers and the test must share comes from ``AUTHZGUARD_TEST_RELOAD_*``:
the policy directory (one per simulated host), the notify backend, its URL, the channel,
and for PostgreSQL the database.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

_env = os.environ.get

AUTHZGUARD_POLICY_PATHS = [_env("AUTHZGUARD_TEST_RELOAD_POLICY_DIR", "")]
AUTHZGUARD_RELOAD = _env("AUTHZGUARD_TEST_RELOAD_MODE", "off")
AUTHZGUARD_RELOAD_INTERVAL = float(_env("AUTHZGUARD_TEST_RELOAD_INTERVAL", "0.2"))
AUTHZGUARD_RELOAD_NOTIFY = _env("AUTHZGUARD_TEST_RELOAD_NOTIFY") or None
AUTHZGUARD_REDIS_URL = _env("AUTHZGUARD_TEST_RELOAD_REDIS_URL") or None
AUTHZGUARD_NOTIFY_CHANNEL = _env("AUTHZGUARD_TEST_RELOAD_CHANNEL", "authzguard_test")
ROOT_URLCONF = "tests.reload_urls"

if _env("AUTHZGUARD_TEST_RELOAD_PG_NAME"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _env("AUTHZGUARD_TEST_RELOAD_PG_NAME"),
            "HOST": _env("AUTHZGUARD_TEST_PGHOST", "127.0.0.1"),
            "PORT": _env("AUTHZGUARD_TEST_PGPORT", "5432"),
            "USER": _env("AUTHZGUARD_TEST_PGUSER", "postgres"),
        }
    }
