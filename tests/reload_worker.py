"""A worker process of the reload tests: ``python -m tests.reload_worker``.

Serves one request through the Django test client (the middleware starts the notify
listener then, as in a gunicorn worker), prints ``{"event": "ready", ...}``, then a line
per ``policy_reloaded`` and per ``version`` read on stdin; exits at the end of stdin.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def emit(**data: Any) -> None:
    print(json.dumps({"pid": os.getpid(), **data}), flush=True)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.reload_settings")
    import django

    django.setup()
    from django.test import Client

    from authzguard import notify
    from authzguard.signals import policy_reloaded

    def reloaded(sender: Any, policy: Any, previous_version: str | None, **kwargs: Any) -> None:
        emit(event="reloaded", version=policy.version, previous=previous_version)

    policy_reloaded.connect(reloaded, weak=False)
    client = Client()

    def served_version() -> str:
        return str(client.get("/reload/version/").json()["version"])

    first = served_version()
    listener = notify.current_listener()
    if listener is not None and not listener.connected.wait(60):
        emit(event="error", error=f"the listener did not connect: {listener.error}")
        sys.exit(1)
    emit(event="ready", version=first)
    for line in sys.stdin:
        if line.strip() == "version":
            emit(event="version", version=served_version())
    notify.stop_listener()


if __name__ == "__main__":
    main()
