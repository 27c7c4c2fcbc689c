"""Settings for the admin tests (tests/admin_suite.py, run by tests/test_admin.py in a
process of its own): the shared test settings plus Django's admin and messages."""

from __future__ import annotations

from tests.settings import *  # noqa: F403
from tests.settings import BASE_DIR, INSTALLED_APPS, MIDDLEWARE, TEMPLATES

INSTALLED_APPS = ["django.contrib.admin", "django.contrib.messages", *INSTALLED_APPS]
MIDDLEWARE = [*MIDDLEWARE, "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [
    {
        **TEMPLATES[0],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
ROOT_URLCONF = "tests.projectapp.admin_urls"
AUTHZGUARD_POLICY_PATHS = [BASE_DIR / "projectapp" / "policies" / "projects.yaml"]
AUTHZGUARD_DENY_BY_DEFAULT = True
