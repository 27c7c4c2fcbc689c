"""The demo's settings, with the run's policy file, reload and a probe on every response.

Read by the gunicorn workers of the load-and-fault run (never by the library's tests).
"""

from __future__ import annotations

import os
from pathlib import Path

from demo_project.settings import *  # noqa: F403
from demo_project.settings import MIDDLEWARE

# The run edits, breaks and repairs this copy of the policy, never policies/demo.yaml.
AUTHZGUARD_POLICY_PATHS = [Path(os.environ["LOADTEST_POLICY_PATH"])]
AUTHZGUARD_RELOAD = os.environ.get("AUTHZGUARD_RELOAD") or "off"
AUTHZGUARD_RELOAD_INTERVAL = float(os.environ.get("AUTHZGUARD_RELOAD_INTERVAL") or 1.0)
AUTHZGUARD_RELOAD_NOTIFY = os.environ.get("AUTHZGUARD_RELOAD_NOTIFY") or None
AUTHZGUARD_REDIS_URL = os.environ.get("REDIS_URL") or None
AUTHZGUARD_RETRY_AFTER = 2

# Which worker answered and which policy version decided: the checker needs both.
MIDDLEWARE = ["tests.loadtest.probe.WorkerProbeMiddleware", *MIDDLEWARE]

# Audit records of thousands of requests would only fill the log; errors still show.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "authzguard": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
