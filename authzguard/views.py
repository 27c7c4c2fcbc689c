"""The staff-only JSON status of policy versions across workers (``status``).

Mount it in the project's URLconf::

    path("authzguard/status/", authzguard.views.status, name="authzguard-status")

It is ``@authz_exempt``: the staff check below is its protection, so it works under
``AUTHZGUARD_DENY_BY_DEFAULT`` without a policy binding (and while the policy is broken).
"""

from __future__ import annotations

import logging

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from authzguard.decorators import authz_exempt
from authzguard.status import collect_status

logger = logging.getLogger("authzguard.reload")


@authz_exempt
@never_cache
@require_safe
def status(request: HttpRequest) -> HttpResponseBase:
    """Every live worker's policy version (``authzguard_status`` as JSON); staff only."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not (user.is_active and user.is_staff):
        raise PermissionDenied
    try:
        report = collect_status()
    except Exception as exc:  # the notify backend is down or misconfigured
        logger.warning("authzguard: status unavailable: %s", exc)
        response = JsonResponse({"error": f"{type(exc).__name__}: {exc}"}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse(report)
