"""Turning a refused :class:`~authzguard.guard.Outcome` into Django's usual responses.

- a method the action does not accept: 405 with ``Allow``;
- a malformed or ambiguous target parameter: 400 (``BadRequest``);
- no such object: 404 (``Http404``);
- anonymous: the login redirect, or a 401 JSON body for requests that want JSON;
- signed in: 403 (``PermissionDenied``), so the project's ``handler403`` renders it;
- with ``AUTHZGUARD_HIDE_EXISTENCE``, every denial of a view that names a target and
  "no such object" raise the very same ``Http404`` (anonymous visitors refused before
  any lookup still get the login redirect: it says nothing about the object).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings as django_settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from authzguard.conf import settings

if TYPE_CHECKING:
    from authzguard.guard import Outcome

#: The one message of every hidden denial and of every missing target.
NOT_FOUND_MESSAGE = "No such object."


def wants_json(request: HttpRequest) -> bool:
    """Whether the client prefers JSON to HTML (API clients, ``fetch``)."""
    accept = request.headers.get("Accept", "")
    if accept and accept.strip() != "*/*":
        return request.get_preferred_type(["text/html", "application/json"]) == "application/json"
    content_type = request.content_type or ""
    return content_type == "application/json" or content_type.endswith("+json")


def respond(request: HttpRequest, outcome: Outcome) -> HttpResponse:
    """The response for a refused outcome; raises Django's HTTP exceptions where they fit."""
    if outcome.status == "allow":
        raise ValueError("respond() is only for refused outcomes")
    if outcome.status == "method_not_allowed":
        return HttpResponseNotAllowed(outcome.allowed_methods)
    hide = settings.HIDE_EXISTENCE
    if outcome.status == "ambiguous" and hide:
        raise Http404(NOT_FOUND_MESSAGE)
    if outcome.status in ("bad_request", "ambiguous"):
        raise BadRequest(outcome.message or "Bad request.")
    signed_in = outcome.authz.subject.authenticated
    if outcome.status == "not_found" or (
        hide and outcome.targeted and (signed_in or outcome.looked_up)
    ):
        raise Http404(NOT_FOUND_MESSAGE)
    if not signed_in:
        if wants_json(request):
            response = JsonResponse(
                {"error": "authentication_required", "detail": "Sign in to do this."},
                status=401,
            )
            response["WWW-Authenticate"] = 'Session realm="authzguard"'
            return response
        return redirect_to_login(request.get_full_path(), str(django_settings.LOGIN_URL))
    # The reason names rules and roles: it goes to the audit log, not to the client.
    raise PermissionDenied("Forbidden.")
