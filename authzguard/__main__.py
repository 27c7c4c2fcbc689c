"""``python -m authzguard``: the same CLI as the ``authzguard`` console script."""

from __future__ import annotations

import sys

from authzguard.cli import main

sys.exit(main())
