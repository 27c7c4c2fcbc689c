"""A second OS process sharing the session stores: ``python -m tests.sessions_worker PK``.

Purges the sessions of user ``PK`` with the settings of tests/sessions_pg_settings.py
(database, engine, cache alias from the environment) and prints ``{"ended": N}``.
"""

from __future__ import annotations

import json
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.sessions_pg_settings")
    import django

    django.setup()
    from authzguard.sessions import purge_user_sessions

    print(json.dumps({"ended": purge_user_sessions(sys.argv[1], reason="other_process")}))
