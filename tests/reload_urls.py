"""URLs of the reload worker processes: the version a worker decides with, and the status."""

from __future__ import annotations

import os

from django.http import HttpRequest, JsonResponse
from django.urls import path

from authzguard import runtime
from authzguard.decorators import authz_exempt
from authzguard.views import status


@authz_exempt
def version(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"version": runtime.get_policy().version, "pid": os.getpid()})


urlpatterns = [
    path("reload/version/", version, name="reload-version"),
    path("authzguard/status/", status, name="authzguard-status"),
]
