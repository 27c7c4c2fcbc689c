"""``AuthzGuardMiddleware``: enforce every binding in ``process_view``, before the view runs.

Place it after ``SessionMiddleware``, ``AuthenticationMiddleware`` and
``CsrfViewMiddleware`` (a system check says so). For each resolved view it finds the
binding, in order: ``@authorize`` (or the CBV mixin), then the policy's ``routes:``
entry for ``resolver_match.view_name``; DRF views using the authzguard permission are
checked by DRF itself, after its own authentication. A view with no binding and no
exemption is refused when ``AUTHZGUARD_DENY_BY_DEFAULT`` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from authzguard import reload, runtime
from authzguard.conf import settings
from authzguard.decorators import BINDING_ATTR, EXEMPT_ATTR
from authzguard.enforcement import enforce, refuse
from authzguard.guard import Binding
from authzguard.mixins import MethodBindings
from authzguard.policy.model import RouteBinding

View = Callable[..., Any]


def view_path(view: View) -> str:
    """The dotted path Django uses for a view without a URL name."""
    func: Any = getattr(view, "view_class", view)
    if not hasattr(func, "__name__"):
        return f"{func.__class__.__module__}.{func.__class__.__name__}"
    return f"{func.__module__}.{func.__name__}"


def declared_bindings(view: View) -> MethodBindings | None:
    """The bindings a view declares in code: ``@authorize`` or the mixin's class attributes."""
    binding: Binding | None = getattr(view, BINDING_ATTR, None)
    if binding is not None:
        return MethodBindings(fallback=binding)
    view_class = getattr(view, "view_class", None)
    get_bindings = getattr(view_class, "get_authz_bindings", None)
    return get_bindings() if get_bindings is not None else None


def is_exempt(view: View) -> bool:
    """``@authz_exempt`` on the function, on the class, or on a CBV's ``dispatch``."""
    if getattr(view, EXEMPT_ATTR, False):
        return True
    return bool(getattr(getattr(view, "view_class", None), EXEMPT_ATTR, False))


def is_drf_guarded(view: View) -> bool:
    """A DRF view whose permission classes include the authzguard permission."""
    view_class = getattr(view, "cls", None)
    if view_class is None:
        return False
    try:
        from authzguard.contrib.drf import uses_authzguard
    except ImportError:  # DRF is an optional extra
        return False
    return uses_authzguard(view_class)


@lru_cache(maxsize=1024)
def route_binding(route: RouteBinding) -> Binding:
    """One Binding per ``routes:`` entry, so the guard's per-binding work is reused."""
    return Binding(route.action, route.resource, route.target, None, "route")


def is_allow_listed(view_name: str, view: View) -> bool:
    """Whether ``AUTHZGUARD_ALLOWED_VIEWS`` or ``AUTHZGUARD_EXTRA_ALLOWED_VIEWS`` names it."""
    path = view_path(view)
    return any(
        fnmatchcase(view_name, pattern) or fnmatchcase(path, pattern)
        for pattern in (*settings.ALLOWED_VIEWS, *settings.EXTRA_ALLOWED_VIEWS)
    )


class AuthzGuardMiddleware(MiddlewareMixin):
    """Resolve the target, decide and deny before any bound view runs (sync and async)."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: View,
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        reload.on_request()  # at most one cheap poll per interval; starts the notify listener
        match = request.resolver_match
        view_name = match.view_name if match is not None else view_path(view_func)
        declared = declared_bindings(view_func)
        binding = declared.for_request(request) if declared is not None else None
        route: RouteBinding | None = None
        policy_error: Exception | None = None
        try:
            route = runtime.get_policy().routes.get(view_name)
        except Exception as exc:  # the policy does not load: fail closed below
            policy_error = exc
        if declared is not None and route is not None:
            # Two declarations that may disagree: refuse rather than pick one (see checks).
            return refuse(request, f"{view_name} is bound twice (code and routes:)")
        if declared is not None and binding is None:
            reason = f"{view_name} maps no authz action to {request.method}"
            return refuse(request, reason, allowed_methods=declared.methods)
        if binding is None and route is not None:
            binding = route_binding(route)
        if binding is not None:
            return enforce(request, binding, view_kwargs)
        if policy_error is None and not settings.DENY_BY_DEFAULT:
            return None
        if is_exempt(view_func) or is_drf_guarded(view_func):
            return None
        if is_allow_listed(view_name, view_func):
            return None
        if policy_error is not None:
            # Without a policy nobody can tell whether routes: binds this view: refuse.
            return refuse(request, f"the policy does not load: {policy_error}")
        return refuse(request, f"{view_name} is not bound (deny by default)")
