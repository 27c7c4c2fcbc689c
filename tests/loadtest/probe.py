"""Headers that tell the load run which worker answered and under which policy version."""

from __future__ import annotations

import os
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from authzguard import runtime

WORKER_HEADER = "X-Loadtest-Worker"
VERSION_HEADER = "X-Loadtest-Policy"


def _version() -> str:
    try:
        return str(runtime.get_policy().version)
    except Exception:
        return "none"


class WorkerProbeMiddleware:
    """Outermost: the version before and after the request (``old..new`` when it changed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        before = _version()
        response = self.get_response(request)
        after = _version()
        response[WORKER_HEADER] = str(os.getpid())
        response[VERSION_HEADER] = before if before == after else f"{before}..{after}"
        return response
