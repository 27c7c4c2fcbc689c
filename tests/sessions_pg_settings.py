"""Settings for the PostgreSQL + Redis session tests (tests/sessions_pg_suite.py).

Used by a separate pytest run and by the second OS process (tests/sessions_worker.py);
everything that must match between the two comes from the environment.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("AUTHZGUARD_SESSIONS_PG_NAME", "authzguard_sessions"),
        "HOST": os.environ.get("AUTHZGUARD_TEST_PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("AUTHZGUARD_TEST_PGPORT", "5432"),
        "USER": os.environ.get("AUTHZGUARD_TEST_PGUSER", "postgres"),
    }
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("AUTHZGUARD_SESSIONS_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "KEY_PREFIX": os.environ.get("AUTHZGUARD_SESSIONS_REDIS_PREFIX", "authzguard-test"),
    },
}
SESSION_ENGINE = os.environ.get("AUTHZGUARD_SESSIONS_ENGINE", "django.contrib.sessions.backends.db")
SESSION_CACHE_ALIAS = os.environ.get("AUTHZGUARD_SESSIONS_CACHE_ALIAS", "default")
MIDDLEWARE = [  # as tests.sessions_support.MIDDLEWARE (which cannot be imported from settings)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "authzguard.sessions.middleware.SessionIndexMiddleware",
]
ROOT_URLCONF = "tests.sessions_support"
# tests.testapp has no migrations and a foreign key to auth.User: on PostgreSQL its syncdb
# tables are created before auth's migrations run. These tests do not need it.
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "tests.testapp"]  # noqa: F405
# authzguard's LoginView renders tests.testapp's registration/login.html.
TEMPLATES = [
    {**TEMPLATES[0], "DIRS": [BASE_DIR / "testapp" / "templates"]}  # noqa: F405
]
