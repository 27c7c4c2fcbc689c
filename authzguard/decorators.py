"""``@authorize`` declares what a view does to which object; ``@authz_exempt`` opts a view out.

The declaration is an attribute on the view (``authzguard_binding``), read by
:class:`~authzguard.middleware.AuthzGuardMiddleware` before the view runs, the way
``login_required`` and ``LoginRequiredMiddleware`` cooperate. The wrapper also enforces
by itself when the middleware did not check the request, so a decorated view is never
left unprotected; the middleware's decision is never taken twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from authzguard.enforcement import aenforce, enforce
from authzguard.guard import Binding
from authzguard.parameters import PARAMETER_SOURCES
from authzguard.policy.model import TargetSpec
from authzguard.resolvers import Resolver

V = TypeVar("V", bound=Callable[..., Any])

BINDING_ATTR = "authzguard_binding"
EXEMPT_ATTR = "authzguard_exempt"


def make_binding(
    action: str,
    resource: str,
    *,
    target: str | TargetSpec | Resolver | None = None,
    source: str | None = None,
    model: str | None = None,
    field: str = "pk",
    pass_as: str | None = None,
    max_length: int | None = None,
    origin: Any = "decorator",
) -> Binding:
    """Validate a declaration's arguments (``ValueError`` naming the mistake) into a Binding."""
    if not isinstance(action, str) or not action:
        raise ValueError(f"authorize(): action must be a non-empty string, not {action!r}")
    if not isinstance(resource, str) or not resource:
        raise ValueError(f"authorize(): resource must be a non-empty string, not {resource!r}")
    if source is not None and source not in PARAMETER_SOURCES:
        choices = ", ".join(sorted(PARAMETER_SOURCES))
        raise ValueError(f"authorize(): source must be one of {choices}, not {source!r}")
    if max_length is not None and (type(max_length) is not int or max_length < 1):
        raise ValueError(f"authorize(): max_length must be a positive int, not {max_length!r}")
    resolver: Resolver | None = None
    spec: TargetSpec | None
    if target is None:
        if source or model or pass_as or field != "pk":
            raise ValueError("authorize(): source/model/field/pass_as need a target")
        spec = None
    elif isinstance(target, TargetSpec):
        spec = target
    elif isinstance(target, str):
        spec = TargetSpec(
            param=target,
            source=source,
            model=model,
            field=field,
            pass_as=pass_as,
            max_length=max_length,
        )
    elif callable(target):
        resolver = target
        spec = TargetSpec(pass_as=pass_as)
    else:
        raise ValueError(
            f"authorize(): target must be a parameter name, a TargetSpec or a callable, "
            f"not {target!r}"
        )
    return Binding(action, resource, spec, resolver, origin)


def authorize(
    action: str,
    resource: str,
    *,
    target: str | TargetSpec | Resolver | None = None,
    source: str | None = None,
    model: str | None = None,
    field: str = "pk",
    pass_as: str | None = None,
    max_length: int | None = None,
) -> Callable[[V], V]:
    """Let the view run only when the policy allows ``action`` on its ``resource`` target.

    ``target`` is the request parameter naming the object (looked up as ``model.field``,
    from ``source``: ``path``, ``query``, ``form``, ``json`` or ``body``; any one place
    when omitted), or a resolver callable ``resolver(request, **view_kwargs)``. The
    authorized object is ``request.authz.target``, and the view keyword ``pass_as``
    when given. Works on sync and async views.
    """
    binding = make_binding(
        action,
        resource,
        target=target,
        source=source,
        model=model,
        field=field,
        pass_as=pass_as,
        max_length=max_length,
    )

    def decorator(view: V) -> V:
        if iscoroutinefunction(view):
            async_view = cast(Callable[..., Awaitable[HttpResponseBase]], view)

            @wraps(view)
            async def _async_wrapper(
                request: HttpRequest, *args: Any, **kwargs: Any
            ) -> HttpResponseBase:
                denied = await aenforce(request, binding, kwargs)
                if denied is not None:
                    return denied
                return await async_view(request, *args, **kwargs)

            wrapper: Callable[..., Any] = markcoroutinefunction(_async_wrapper)
        else:

            @wraps(view)
            def _sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                denied = enforce(request, binding, kwargs)
                if denied is not None:
                    return denied
                return view(request, *args, **kwargs)

            wrapper = _sync_wrapper
        setattr(wrapper, BINDING_ATTR, binding)
        return cast(V, wrapper)

    return decorator


def authz_exempt(view: V) -> V:
    """Mark a public view: no binding needed, even under ``AUTHZGUARD_DENY_BY_DEFAULT``.

    Works on view functions and on class-based views (the class or its ``as_view()``).
    """
    setattr(view, EXEMPT_ATTR, True)
    return view
