"""Ready views: a login view that survives its user's deletion, and "my sessions" actions.

``LoginView`` replaces ``django.contrib.auth.views.LoginView`` one for one. Mount
``end_own_sessions`` in your URLconf (``path("sessions/mine/end/", end_own_sessions, ...)``);
it only ever acts on the signed-in user's own sessions, so it needs no target lookup.
"""

from __future__ import annotations

from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, router, transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from authzguard import audit
from authzguard.sessions.engines import UnsupportedSessionEngine
from authzguard.sessions.purge import end_session, end_user_sessions

_MAX_ID_DIGITS = 19  # a BigAutoField fits in 19 digits


class LoginView(auth_views.LoginView):
    """Django's ``LoginView``; a user deleted while signing in gets a failed login, not a 500.

    Between the password check and ``login()`` the user may be deleted: Django's
    ``update_last_login`` then raises ``DatabaseError``, and the session index has no user
    to record the session for. Here the login's writes run in one transaction, and a
    vanished user gets the form back with the usual "invalid login" error and a flushed
    session.
    """

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        try:
            with transaction.atomic(using=router.db_for_write(type(user))):
                auth_login(self.request, user)
        except DatabaseError:
            if type(user)._base_manager.filter(pk=user.pk).exists():
                raise
            return self._user_vanished(form, str(user.pk))
        if not self.request.user.is_authenticated:
            # The session index found the user gone and ended the session (hooks.on_login).
            return self._user_vanished(form, str(user.pk))
        return HttpResponseRedirect(self.get_success_url())

    def _user_vanished(self, form: AuthenticationForm, user_pk: str) -> HttpResponse:
        self.request.session.flush()
        self.request.user = AnonymousUser()
        audit.emit(
            "session.refused",
            {"user": user_pk, "reason": "user_deleted", "path": self.request.path},
        )
        error = getattr(form, "get_invalid_login_error", None)
        form.add_error(None, error() if error else ValidationError("Please sign in again."))
        return self.form_invalid(form)


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
