"""A Django REST framework permission that asks the policy (``pip install authzguard[drf]``).

DRF authenticates inside the view, so DRF views are checked by this permission rather
than by the middleware (which leaves views using it alone, even under deny-by-default).
Declare on the view::

    class UserDetail(generics.RetrieveDestroyAPIView):
        permission_classes = [AuthzGuardPermission]
        authz_resource = "user"
        authz_actions = {"GET": "read", "DELETE": "delete"}   # or authz_action = "read"

Like DRF's own permissions, the view-level check runs first (refusing subjects no rule
could cover, before any lookup), then the object check decides on the object DRF's
``get_object()`` fetched. A view with ``authz_target`` resolves its target itself, with
the same rules as ``@authorize``. List views are decided without an object: filter
their querysets yourself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from authzguard.conf import settings
from authzguard.decorators import make_binding
from authzguard.guard import Binding, Outcome, evaluate, mark_checked
from authzguard.resolvers import ResolvedTarget


def uses_authzguard(view_class: type[Any]) -> bool:
    """Whether a DRF view class lists :class:`AuthzGuardPermission` (or a subclass)."""
    return any(
        isinstance(permission, type) and issubclass(permission, AuthzGuardPermission)
        for permission in getattr(view_class, "permission_classes", ())
    )


def _binding(request: Request, view: APIView) -> Binding | None:
    resource: str | None = getattr(view, "authz_resource", None)
    action: str | None = getattr(view, "authz_action", None)
    actions: Mapping[str, str] | None = getattr(view, "authz_actions", None)
    if actions is not None:
        viewset_action = getattr(view, "action", None)
        action = actions.get(viewset_action or "") or actions.get(request.method or "")
    if not resource or not action:
        return None
    cache: dict[tuple[str, str], Binding] = view.__class__.__dict__.get("_authz_bindings", {})
    binding = cache.get((resource, action))
    if binding is None:
        binding = make_binding(
            action,
            resource,
            target=getattr(view, "authz_target", None),
            source=getattr(view, "authz_source", None),
            model=getattr(view, "authz_model", None),
            field=getattr(view, "authz_field", "pk"),
            origin="drf",
        )
        cache[(resource, action)] = binding
        type.__setattr__(view.__class__, "_authz_bindings", cache)
    return binding


def _record(request: Request, binding: Binding, outcome: Outcome) -> None:
    request.authz = outcome.authz  # type: ignore[attr-defined]
    request._request.authz = outcome.authz  # type: ignore[attr-defined]
    mark_checked(request._request, binding, outcome)


def _not_found(view: APIView, obj: Any = None) -> Http404:
    # The very message DRF's get_object() gives for a missing object, so that a hidden
    # denial and a missing object produce identical responses.
    queryset = getattr(view, "queryset", None)
    model = type(obj) if obj is not None else getattr(queryset, "model", None)
    meta = getattr(model, "_meta", None)
    if meta is None:
        return Http404()
    return Http404(f"No {meta.object_name} matches the given query.")


def _refuse(outcome: Outcome, view: APIView, obj: Any = None) -> bool:
    if outcome.allowed:
        return True
    signed_in = outcome.authz.subject.authenticated
    if outcome.status == "not_found" or (
        settings.HIDE_EXISTENCE
        and outcome.targeted
        and (signed_in or outcome.looked_up or outcome.status == "ambiguous")
    ):
        raise _not_found(view, obj)
    if outcome.status in ("bad_request", "ambiguous"):
        raise exceptions.ParseError(outcome.message)
    if outcome.status == "method_not_allowed":
        raise exceptions.MethodNotAllowed("")
    if not signed_in:
        raise exceptions.NotAuthenticated()
    raise exceptions.PermissionDenied()


def _lookup(view: APIView) -> str:
    return str(getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk"))


class AuthzGuardPermission(BasePermission):
    """Allow a DRF request only when the policy allows the view's action on its target."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = (request.method or "").lower()
        if method not in view.http_method_names or not hasattr(view, method):
            # No handler will run: answer DRF's 405 rather than a misleading 403.
            raise exceptions.MethodNotAllowed(request.method or "")
        binding = _binding(request, view)
        if binding is None:
            # An undeclared action for this method or viewset action: fail closed.
            refused = evaluate(
                request._request, Binding("", ""), {}, user=request.user, refuse="no action"
            )
            return _refuse(refused, view)
        custom = binding.target is not None or binding.resolver is not None
        is_detail = not custom and _lookup(view) in view.kwargs
        outcome = evaluate(
            request._request,
            binding,
            view.kwargs,
            user=request.user,
            check_method=False,
            phase_one_only=is_detail,
        )
        outcome.targeted = outcome.targeted or is_detail
        _record(request, binding, outcome)
        return _refuse(outcome, view)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        binding = _binding(request, view)
        authz = getattr(request, "authz", None)
        if binding is None:
            return False
        if binding.target is not None or binding.resolver is not None:
            # Already decided on the resolved target in has_permission: it must be this object.
            return bool(authz is not None and authz.allowed and authz.target is obj)
        outcome = evaluate(
            request._request,
            binding,
            view.kwargs,
            user=request.user,
            target=ResolvedTarget(obj, getattr(obj, "pk", None), _lookup(view), "path"),
            check_method=False,
        )
        outcome.looked_up = outcome.targeted = True
        _record(request, binding, outcome)
        return _refuse(outcome, view, obj)
