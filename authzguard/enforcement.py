"""Enforcing a binding for the Django adapters: decide once per request, then run the view
(handing it the authorized object) or answer the denial.

The decorator, the class-based-view mixin and the middleware share these. The outcome
is recorded on the request (``request.authz``), so a view's own wrapper never decides
again what the middleware already decided for the same binding.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from authzguard import denial
from authzguard.guard import Authorization, Binding, Outcome, evaluate

_CHECKED_ATTR = "_authzguard_checked"


def record_outcome(request: HttpRequest, binding: Binding | None, outcome: Outcome) -> None:
    """Make ``outcome`` the request's (``request.authz``) and mark the request checked."""
    request.authz = outcome.authz  # type: ignore[attr-defined]
    setattr(request, _CHECKED_ATTR, (binding, outcome))


def checked_outcome(request: HttpRequest, binding: Binding | None) -> Outcome | None:
    """The outcome of this request's earlier check for ``binding``, if it had one."""
    checked: tuple[Binding | None, Outcome] | None = getattr(request, _CHECKED_ATTR, None)
    if checked is None or checked[0] is not binding:
        return None
    return checked[1]


def inject_target(
    request: HttpRequest, binding: Binding, view_kwargs: MutableMapping[str, Any]
) -> None:
    """Hand the authorized object to the view under ``pass_as`` (opt-in)."""
    pass_as = binding.target.pass_as if binding.target is not None else None
    authz: Authorization | None = getattr(request, "authz", None)
    if pass_as and authz is not None and authz.allowed:
        view_kwargs[pass_as] = authz.target


def enforce(
    request: HttpRequest, binding: Binding, view_kwargs: MutableMapping[str, Any]
) -> HttpResponse | None:
    """Check ``request`` once for ``binding``: ``None`` to run the view, else the denial.

    Denials that Django renders itself (400, 403, 404) are raised as its exceptions.
    """
    outcome = checked_outcome(request, binding)
    if outcome is None:
        outcome = evaluate(request, binding, view_kwargs)
        record_outcome(request, binding, outcome)
    if not outcome.allowed:
        return denial.respond(request, outcome)
    inject_target(request, binding, view_kwargs)
    return None


_enforce_in_thread = sync_to_async(enforce, thread_sensitive=True)


async def aenforce(
    request: HttpRequest, binding: Binding, view_kwargs: MutableMapping[str, Any]
) -> HttpResponse | None:
    """:func:`enforce` for async views: the same code, in a thread where the ORM may run."""
    outcome = checked_outcome(request, binding)
    if outcome is not None and outcome.allowed:
        # Already allowed by the middleware: no thread hop needed to say so again.
        inject_target(request, binding, view_kwargs)
        return None
    return await _enforce_in_thread(request, binding, view_kwargs)


def refuse(
    request: HttpRequest, reason: str, *, allowed_methods: tuple[str, ...] | None = None
) -> HttpResponse:
    """Refuse a request no binding covers (deny by default, a policy that does not load).

    With ``allowed_methods``, the view declares bindings but none for this method: a 405
    that lists them.
    """
    binding = Binding("", "", origin="default")
    if allowed_methods is None:
        outcome = evaluate(request, binding, {}, refuse=reason)
    else:
        outcome = evaluate(request, binding, {}, refuse=reason, refused_status="method_not_allowed")
        outcome.allowed_methods = allowed_methods
    record_outcome(request, binding, outcome)
    return denial.respond(request, outcome)
