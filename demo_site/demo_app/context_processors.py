from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from demo_app.accounts import DEMO_ACCOUNTS


def demo(request: HttpRequest) -> dict[str, Any]:
    """What every page shows: the insecure-mode banner and the seeded accounts."""
    return {
        "demo_insecure": bool(getattr(settings, "DEMO_INSECURE", False)),
        "demo_accounts": DEMO_ACCOUNTS,
    }
