"""The demo's protected views: the same two flows as ``insecure.py``, declared to authzguard.

Each view says what it does to which object (``@authorize``); the middleware finds
that object from the request, asks ``policies/demo.yaml``, and runs the view only
when the policy allows, handing it the object it authorized (``request.authz.target``).
No view reads the raw ``email`` or ``id`` parameter itself.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults

from authzguard import Authorization, authorize, authz_exempt
from authzguard.sessions import (
    UnsupportedSessionEngine,
    end_session,
    end_user_sessions,
    list_user_sessions,
)
from demo_app.negotiation import wants_json


class AuthorizedRequest(HttpRequest):
    """What a view behind ``@authorize`` receives: the request with its ``authz`` record."""

    authz: Authorization


def _redirect_target(request: HttpRequest) -> str | None:
    """The page a browser form asked to return to (``next``), if it is on this site.

    API callers send no ``next`` and get JSON; the HTML pages send one so a person
    lands back on a page instead of a JSON document.
    """
    target = request.POST.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _json_error(request: HttpRequest, error: str, status: int) -> JsonResponse:
    authz = getattr(request, "authz", None)
    return JsonResponse(
        {"error": error, "request_id": authz.request_id if authz else None}, status=status
    )


# Error handlers: a page for people, a JSON body for API clients (Django's DEBUG mode
# shows its own technical pages for 400 and 404 instead).
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return _json_error(request, "bad_request", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return _json_error(request, "forbidden", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return _json_error(request, "not_found", 404)
    return defaults.page_not_found(request, exception)


@authz_exempt
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo_app/home.html")


@authz_exempt
def whoami(request: HttpRequest) -> JsonResponse:
    user = request.user
    return JsonResponse(
        {
            "authenticated": bool(user.is_authenticated),
            "username": user.get_username() if user.is_authenticated else None,
        }
    )


@authorize("end", "session", target="email", source="body", field="email")
def end_sessions(request: AuthorizedRequest) -> HttpResponse:
    """``POST email=...``: end every session of that user (the policy: only your own)."""
    owner = request.authz.target
    ended = end_user_sessions(request, owner)
    back = _redirect_target(request)
    if back is not None:
        messages.success(request, f"Ended {ended} session(s) of {owner.get_username()}.")
        return HttpResponseRedirect(back)
    return JsonResponse({"ended": ended})


@authorize("delete", "user", target="id", source="body", field="pk")
def delete_user(request: AuthorizedRequest) -> HttpResponse:
    """``POST id=...``: delete that user (the policy: role admin). The deletion hook
    purges every session of the deleted user once the transaction commits."""
    user = request.authz.target
    deleted = user.pk
    username = user.get_username()
    user.delete()
    back = _redirect_target(request)
    if back is not None:
        messages.success(request, f"Deleted user {username} (id {deleted}).")
        return HttpResponseRedirect(back)
    return JsonResponse({"deleted": deleted})


def signed_in_user(request: HttpRequest) -> object:
    """Resolver for views that act on the caller's own sessions: the target is the caller.

    The policy still decides (``resource.owner == subject.id``), so these views follow
    the same rules, and write the same audit records, as the ones that take an email.
    """
    return request.user if request.user.is_authenticated else None


@authorize("view", "session", target=signed_in_user)
def my_sessions(request: AuthorizedRequest) -> HttpResponse:
    try:
        sessions = list_user_sessions(request.authz.target, request=request)
    except UnsupportedSessionEngine as exc:
        # signed_cookies: the sessions live in browsers; say so instead of listing none.
        return render(request, "demo_app/sessions.html", {"sessions": [], "unlisted": str(exc)})
    return render(request, "demo_app/sessions.html", {"sessions": sessions})


@authorize("end", "session", target=signed_in_user)
def end_other_sessions(request: AuthorizedRequest) -> HttpResponse:
    ended = end_user_sessions(request, request.authz.target, keep_current=True)
    messages.success(request, f"Ended {ended} other session(s).")
    return HttpResponseRedirect(reverse("my-sessions"))


@authorize("end", "browser_session", target="session", source="form", field="pk")
def end_one_session(request: AuthorizedRequest) -> HttpResponse:
    """End one session by its index id (never its key, which is a bearer secret)."""
    ended = end_session(request, request.authz.target.pk)
    messages.success(request, f"Ended {ended} session.")
    return HttpResponseRedirect(reverse("my-sessions"))


@authorize("list", "user")
def user_list(request: HttpRequest) -> HttpResponse:
    users = get_user_model().objects.order_by("pk")
    return render(request, "demo_app/users.html", {"users": users})
