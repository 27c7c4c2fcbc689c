"""WSGI entry point, for serving the demo with a WSGI server instead of ``runserver``.

Run from the repository root with ``demo_site`` on the Python path, e.g.
``gunicorn --chdir demo_site demo_project.wsgi``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.wsgi import get_wsgi_application

# The demo runs the authzguard of this checkout, installed or not.
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(1, _REPO_ROOT)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
application = get_wsgi_application()
