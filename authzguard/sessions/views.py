"""A ready view for a "my sessions" page: end one of your sessions, all others, or all.

Mount it in your URLconf (``path("sessions/mine/end/", end_own_sessions, ...)``). It only ever
acts on the signed-in user's own sessions, so it needs no target lookup.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from authzguard.sessions.engines import UnsupportedSessionEngine
from authzguard.sessions.purge import end_session, end_user_sessions

_MAX_ID_DIGITS = 19  # a BigAutoField fits in 19 digits


@require_POST
@login_required
def end_own_sessions(request: HttpRequest) -> HttpResponse:
    """POST ``session``: an index id (from ``list_user_sessions``), ``others`` or ``all``.

    Answers ``{"ended": N}``, or a 303 redirect to a same-site ``next`` when one is given;
    501 when the engine cannot end one session (``signed_cookies``).
    """
    values = request.POST.getlist("session")
    if len(values) != 1:
        return HttpResponseBadRequest("Give exactly one 'session' value.")
    value = values[0]
    if value == "others":
        ended = end_user_sessions(request, request.user, keep_current=True)
    elif value == "all":
        ended = end_user_sessions(request, request.user)
    elif value.isascii() and value.isdigit() and len(value) <= _MAX_ID_DIGITS:
        try:
            ended = end_session(request, int(value))
        except UnsupportedSessionEngine as exc:
            return JsonResponse({"error": str(exc)}, status=501)
    else:
        return HttpResponseBadRequest("'session' must be an id, 'others' or 'all'.")
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        response = HttpResponseRedirect(target)
        response.status_code = 303  # "see other": the browser follows with a GET
        return response
    return JsonResponse({"ended": ended})
