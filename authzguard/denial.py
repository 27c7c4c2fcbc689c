"""Turning a refused :class:`~authzguard.guard.Outcome` into Django's usual responses.

- a method the action does not accept: 405 with ``Allow``;
- a malformed or ambiguous target parameter: 400 (``BadRequest``);
- no such object: 404 (``Http404``);
- anonymous: the login redirect, or a 401 JSON body for requests that want JSON;
- signed in: 403 (``PermissionDenied``), so the project's ``handler403`` renders it;
- the database or Redis unreachable while deciding: 503 with ``Retry-After``;
- with ``AUTHZGUARD_HIDE_EXISTENCE``, every denial that could tell whether the object
  exists is the very same 404 as "no such object" (:func:`hides`).

:func:`refusal` is the one place that decides which of these a refused outcome is; the
DRF permission maps the same answers to DRF's exceptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from django.conf import settings as django_settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse

from authzguard.conf import settings
from authzguard.outage import service_unavailable
from authzguard.parameters import is_json

if TYPE_CHECKING:
    from authzguard.guard import Outcome

#: The one message of every hidden denial and of every missing target.
NOT_FOUND_MESSAGE = "No such object."

Refusal = Literal[
    "method_not_allowed", "bad_request", "not_found", "unauthenticated", "forbidden", "unavailable"
]


def hides(outcome: Outcome) -> bool:
    """Whether ``AUTHZGUARD_HIDE_EXISTENCE`` turns this refusal into "no such object".

    An ambiguous target, and any denial of a view naming a target to a signed-in user or
    after a lookup, could tell that the object exists. An anonymous visitor refused before
    any lookup learns nothing about the object and still gets the login redirect.
    """
    if not settings.HIDE_EXISTENCE or outcome.status in (
        "method_not_allowed",
        "bad_request",
        "unavailable",
    ):
        return False
    if outcome.status == "ambiguous":
        return True
    return outcome.targeted and (outcome.authz.subject.authenticated or outcome.looked_up)


def refusal(outcome: Outcome) -> Refusal:
    """Which kind of refusal a refused outcome is, for every adapter."""
    if outcome.status == "allow":
        raise ValueError("refusal() is only for refused outcomes")
    if outcome.status in ("method_not_allowed", "bad_request", "unavailable"):
        return outcome.status  # none says anything about the object
    if outcome.status == "not_found" or hides(outcome):
        return "not_found"
    if outcome.status == "ambiguous":
        return "bad_request"
    return "forbidden" if outcome.authz.subject.authenticated else "unauthenticated"


def wants_json(request: HttpRequest) -> bool:
    """Whether the client prefers JSON to HTML (API clients, ``fetch``)."""
    accept = request.headers.get("Accept", "")
    if accept and accept.strip() != "*/*":
        return request.get_preferred_type(["text/html", "application/json"]) == "application/json"
    return is_json(request.content_type or "")


def respond(request: HttpRequest, outcome: Outcome) -> HttpResponse:
    """The response for a refused outcome; raises Django's HTTP exceptions where they fit."""
    kind = refusal(outcome)
    if kind == "unavailable":
        return service_unavailable(request)
    if kind == "method_not_allowed":
        return HttpResponseNotAllowed(outcome.allowed_methods)
    if kind == "not_found":
        raise Http404(NOT_FOUND_MESSAGE)
    if kind == "bad_request":
        raise BadRequest(outcome.message or "Bad request.")
    if kind == "unauthenticated":
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
