#!/usr/bin/env python
"""The demo site's manage.py: run it from the repository root as ``python demo_site/manage.py``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The demo runs the authzguard of this checkout, installed or not.
REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if REPO_ROOT not in sys.path:
    sys.path.insert(1, REPO_ROOT)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
