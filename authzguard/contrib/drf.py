"""A Django REST framework permission that asks the policy (``pip install authzguard[drf]``).

DRF authenticates inside the view, so DRF views are checked by this permission rather
than by the middleware (which leaves views using it alone, even under deny-by-default).
Declare on the view::

    class UserDetail(generics.RetrieveDestroyAPIView):
        permission_classes = [AuthzGuardPermission]
        authz_resource = "user"
        authz_actions = {"GET": "read", "DELETE": "delete"}

The contract (``docs/views.md``):

- each request is decided against the action its method (or viewset action) maps to,
  and that action must accept the method: anything else is a 405, as for ``@authorize``;
- ``has_permission`` takes the whole decision, and writes the one audit record. On a
  detail URL (``kwargs[lookup_url_kwarg or lookup_field]``) it looks the object up itself,
  in the view's ``get_queryset()`` (or the kind's model) with the joins the decorator
  uses, so no handler runs without a decision on its object, whether or not it calls
  ``get_object()``;
- ``has_object_permission`` only confirms that the object DRF fetched is that object.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from django.db import router
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, QueryDict
from rest_framework import exceptions
from rest_framework.filters import BaseFilterBackend
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSetMixin

from authzguard import denial
from authzguard.conf import settings
from authzguard.decorators import make_binding
from authzguard.enforcement import record_outcome
from authzguard.exceptions import ParameterError
from authzguard.guard import Binding, Outcome, evaluate
from authzguard.parameters import clean_value
from authzguard.policy.model import ResourceKind, TargetSpec
from authzguard.resolvers import TargetParser, TargetPlan, TargetQuery, parse_target, plan_target

logger = logging.getLogger("authzguard")

#: Methods that change nothing (RFC 9110): one action may not stand for these and others.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def uses_authzguard(view_class: type[Any]) -> bool:
    """Whether a DRF view class lists :class:`AuthzGuardPermission` (or a subclass)."""
    return any(
        isinstance(permission, type) and issubclass(permission, AuthzGuardPermission)
        for permission in getattr(view_class, "permission_classes", ())
    )


# -- what a view declares (read from the view, or its class for the system checks) --------


def lookup_kwarg(view: Any) -> str:
    """The URL kwarg naming a detail view's object, as DRF's ``get_object()`` reads it."""
    return str(getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk"))


def lookup_model_field(view: Any) -> str:
    """The model field the lookup kwarg is compared with."""
    return str(getattr(view, "lookup_field", None) or "pk")


def is_viewset(view: Any) -> bool:
    """Whether ``view`` (an instance or a class) is a DRF viewset."""
    view_class = view if isinstance(view, type) else type(view)
    return issubclass(view_class, ViewSetMixin)


def declared_action(
    view: Any, method: str, viewset_action: str | None, *, viewset: bool = False
) -> object:
    """The authz action ``view`` maps a request to (``None``: it maps none).

    A viewset's ``authz_actions`` is keyed by viewset action (``list``, ``retrieve``,
    an ``@action``'s name): its HTTP-method keys are never read (``authzguard.E036``),
    since one method serves several actions (GET: ``list`` and ``retrieve``). Other
    views key it by HTTP method; HEAD follows GET.
    """
    actions: Mapping[str, object] | None = getattr(view, "authz_actions", None)
    if actions is None:
        return getattr(view, "authz_action", None)
    if viewset:
        return actions.get(viewset_action) if viewset_action else None
    found = actions.get(method)
    if found is None and method == "HEAD":
        found = actions.get("GET")  # HEAD runs the GET handler
    return found


def creates_under_parent(
    view: Any, method: str, viewset_action: str | None, kwargs: Collection[str]
) -> bool:
    """Whether the request creates an object that ``authz_parent`` names the parent of:
    a viewset's ``create``, or a POST without the lookup kwarg on another view."""
    if getattr(view, "authz_parent", None) is None:
        return False
    if is_viewset(view):
        return viewset_action == "create"
    return method == "POST" and lookup_kwarg(view) not in kwargs


def parent_resource(view: Any) -> str:
    """The parent's kind: ``authz_parent_resource``, by default the parameter's name."""
    return str(getattr(view, "authz_parent_resource", None) or getattr(view, "authz_parent", ""))


def ignored_kwargs(view: Any) -> frozenset[str]:
    """URL kwargs DRF itself consumes (format suffix, URL versioning): never a target."""
    versioning = getattr(view, "versioning_class", None)
    version = getattr(versioning, "version_param", None) or api_settings.VERSION_PARAM
    return frozenset({api_settings.FORMAT_SUFFIX_KWARG, version})


def static_model_label(view: Any, kind: ResourceKind | None) -> str | None:
    """The model a detail view's object is looked up in, as far as its class tells."""
    queryset = getattr(view, "queryset", None)
    model = getattr(queryset, "model", None)
    if model is not None:
        return str(model._meta.label)
    return kind.model if kind is not None else None


def has_own_queryset(view: Any) -> bool:
    """Whether the view's ``get_queryset()`` can answer (``queryset`` set, or overridden)."""
    view_class = view if isinstance(view, type) else type(view)
    get_queryset = getattr(view_class, "get_queryset", None)
    if get_queryset is None:
        return False
    return (
        getattr(view, "queryset", None) is not None
        or get_queryset is not GenericAPIView.get_queryset
    )


# -- bindings -----------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _binding(
    resource: str,
    action: str,
    custom: tuple[object, str | None, str | None, str] | None,
    detail: tuple[str, str] | None,
) -> Binding:
    """One Binding per declaration, so the guard's per-binding preparation is reused."""
    if custom is not None:
        target, source, model, field = custom
        return make_binding(
            action,
            resource,
            target=target,  # type: ignore[arg-type]
            source=source,
            model=model,
            field=field,
            origin="drf",
        )
    if detail is None:
        return make_binding(action, resource, origin="drf")
    param, field = detail
    return Binding(
        action, resource, TargetSpec(param=param, source="path", field=field), None, "drf"
    )


class Undecidable(Exception):
    """The request names something no decision could be taken on: refused."""


def view_binding(
    view: Any, resource: str, action: str, kwargs: Mapping[str, Any], *, parent: bool = False
) -> Binding:
    """The binding a request with URL ``kwargs`` is decided by (``ValueError`` if misdeclared).

    ``parent``: the request creates under ``authz_parent``, so the body names the target.
    """
    target = getattr(view, "authz_target", None)
    if parent:
        return _parent_binding(view, action, kwargs)
    if target is not None:
        custom = (
            target,
            getattr(view, "authz_source", None),
            getattr(view, "authz_model", None),
            getattr(view, "authz_field", "pk"),
        )
        return _binding(resource, action, custom, None)
    param = lookup_kwarg(view)
    if param in kwargs:
        return _binding(resource, action, None, (param, lookup_model_field(view)))
    others = sorted(set(kwargs) - ignored_kwargs(view))
    if others:
        # The handler may read an object through them: deciding without it would be open.
        raise Undecidable(
            f"the URL captures {', '.join(others)} but not the lookup kwarg {param!r}"
        )
    return _binding(resource, action, None, None)


def _parent_binding(view: Any, action: str, kwargs: Mapping[str, Any]) -> Binding:
    name = getattr(view, "authz_parent", None)
    if getattr(view, "authz_target", None) is not None:
        raise ValueError("set authz_target or authz_parent, not both")
    if not isinstance(name, str) or not name:
        raise ValueError(f"authz_parent must be a parameter name, not {name!r}")
    others = sorted(set(kwargs) - ignored_kwargs(view))
    if others:
        raise Undecidable(f"the URL captures {', '.join(others)}, but the parent is {name!r}")
    field = getattr(view, "authz_field", "pk")
    return _binding(parent_resource(view), action, (name, "body", None, field), None)


def _data_parser(request: Request) -> TargetParser:
    """Read the parent as the serializer will: from ``request.data``, DRF's parsed body.

    The same validation as any target (400 when missing, repeated or malformed); a body
    DRF cannot parse is a 400 as well.
    """

    def parse(
        http_request: HttpRequest,
        spec: TargetSpec,
        kind: ResourceKind | None,
        view_kwargs: Mapping[str, Any],
        plan: TargetPlan | None,
    ) -> TargetQuery:
        param = spec.param or ""
        plan = plan if plan is not None else plan_target(spec, kind)
        try:
            data = request.data
        except exceptions.APIException as exc:
            raise ParameterError(f"the request body cannot be read: {exc}", param) from None
        if not isinstance(data, Mapping):
            raise ParameterError("the request body is not an object", param)
        if isinstance(data, QueryDict):
            values: list[object] = list(data.getlist(param))
        else:
            values = [data[param]] if param in data else []
        # Named in the query string as well: which one counts would be a guess.
        values.extend(http_request.GET.getlist(param))
        if not values:
            raise ParameterError(f"missing parameter {param!r}", param)
        if len(values) > 1:
            raise ParameterError(f"parameter {param!r} is given {len(values)} times", param)
        using = router.db_for_read(plan.model)
        value = clean_value(
            values[0], plan.field, max_length=spec.max_length, parameter=param, using=using
        )
        return TargetQuery(plan.model, spec.field, value, param, "body", using, plan.related)

    return parse


def _kwarg_parser(view: APIView) -> TargetParser:
    """Read the target as ``get_object()`` does: the URL kwarg only, in ``get_queryset()``."""

    def parse(
        request: HttpRequest,
        spec: TargetSpec,
        kind: ResourceKind | None,
        view_kwargs: Mapping[str, Any],
        plan: TargetPlan | None,
    ) -> TargetQuery:
        queryset: QuerySet[Any] | None = None
        if has_own_queryset(view):
            queryset = view.get_queryset()  # type: ignore[attr-defined]
            if not isinstance(queryset, QuerySet):
                raise TypeError(f"get_queryset() returned {type(queryset).__name__}")
        model = queryset.model if queryset is not None else None
        if plan is None or (model is not None and plan.model is not model):
            label = model._meta.label if model is not None else None
            plan = plan_target(replace(spec, model=label), kind)
        param = spec.param or ""
        using = queryset.db if queryset is not None else plan.model._default_manager.db
        value = clean_value(
            view_kwargs[param], plan.field, max_length=spec.max_length, parameter=param, using=using
        )
        return TargetQuery(
            plan.model, spec.field, value, param, "path", using, plan.related, queryset
        )

    return parse


# -- deciding -----------------------------------------------------------------------------


def _refused(
    request: Request, name: str, resource: str, reason: str, *, method_not_allowed: bool = False
) -> Outcome:
    return evaluate(
        request._request,
        Binding(name, resource, origin="drf"),
        {},
        user=request.user,
        refuse=reason,
        refused_status="method_not_allowed" if method_not_allowed else "deny",
    )


def decide(request: Request, view: APIView) -> Outcome:
    """Decide ``request`` for ``view``: one audit record; errors deny, never raise."""
    method = (request.method or "").upper()
    viewset_action: str | None = getattr(view, "action", None)
    name = viewset_action or method.lower()
    resource = getattr(view, "authz_resource", None)
    resource = resource if isinstance(resource, str) else ""
    if method.lower() not in view.http_method_names or not hasattr(view, method.lower()):
        return _refused(
            request, name, resource, f"no handler for {method}", method_not_allowed=True
        )
    action = declared_action(view, method, viewset_action, viewset=is_viewset(view))
    if action is None:
        reason = f"the view maps no authz action to {name} ({method})"
        return _refused(request, name, resource, reason, method_not_allowed=True)
    if not resource or not isinstance(action, str) or not action:
        return _refused(request, name, resource, "the view's authz declaration is incomplete")
    parent = creates_under_parent(view, method, viewset_action, view.kwargs)
    try:
        binding = view_binding(view, resource, action, view.kwargs, parent=parent)
    except Undecidable as exc:
        return _refused(request, action, resource, str(exc))
    except Exception as exc:  # a misdeclared view is refused (authzguard.E034 at start-up)
        logger.exception("authzguard refused %s: its declaration is invalid", request.path)
        return _refused(request, action, resource, f"invalid declaration: {exc}")
    if binding.target is None and filters_lists(view) and is_list_request(view):
        # The list shows only what the policy allows: it runs for whoever may see some.
        binding = replace(binding, listing=True)
    custom = getattr(view, "authz_target", None) is not None
    # A declared authz_target is read like @authorize's; a detail kwarg like get_object();
    # a parent like the serializer reads it.
    parser: TargetParser = parse_target
    if parent:
        parser = _data_parser(request)
    elif not custom and binding.target is not None:
        parser = _kwarg_parser(view)
    return evaluate(request._request, binding, view.kwargs, user=request.user, parser=parser)


def _record(request: Request, outcome: Outcome) -> None:
    request.authz = outcome.authz  # type: ignore[attr-defined]
    record_outcome(request._request, outcome.authz.binding, outcome)


def _not_found(view: APIView, obj: Any = None) -> Http404:
    # The very message DRF's get_object() gives for a missing object, so that a hidden
    # denial and a missing object produce identical responses.
    queryset = getattr(view, "queryset", None)
    model = type(obj) if obj is not None else getattr(queryset, "model", None)
    meta = getattr(model, "_meta", None)
    if meta is None:
        return Http404()
    return Http404(f"No {meta.object_name} matches the given query.")


class ServiceUnavailable(exceptions.APIException):
    """The database or Redis cannot be reached: 503, with ``Retry-After`` (DRF sends
    it for an exception with a ``wait``)."""

    status_code = 503
    default_detail = "Service temporarily unavailable. Try again shortly."
    default_code = "service_unavailable"

    def __init__(self) -> None:
        super().__init__()
        self.wait = settings.RETRY_AFTER


def _refuse(outcome: Outcome, request: Request, view: APIView) -> bool:
    if outcome.allowed:
        return True
    kind = denial.refusal(outcome)
    if kind == "unavailable":
        raise ServiceUnavailable()
    if kind == "method_not_allowed":
        raise exceptions.MethodNotAllowed(request.method or "")
    if kind == "not_found":
        raise _not_found(view)
    if kind == "bad_request":
        raise exceptions.ParseError(outcome.message)
    if kind == "unauthenticated":
        raise exceptions.NotAuthenticated()
    raise exceptions.PermissionDenied()


def _same_object(authorized: object, fetched: object) -> bool:
    if authorized is fetched:
        return True
    ours, theirs = getattr(type(authorized), "_meta", None), getattr(type(fetched), "_meta", None)
    if ours is None or theirs is None or ours.concrete_model is not theirs.concrete_model:
        return False
    pk = getattr(authorized, "pk", None)
    return pk is not None and pk == getattr(fetched, "pk", None)


class AuthzGuardPermission(BasePermission):
    """Allow a DRF request only when the policy allows its action on its object."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        outcome = decide(request, view)
        _record(request, outcome)
        return _refuse(outcome, request, view)

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        authz = getattr(request, "authz", None)
        if authz is not None and authz.allowed and authz.target is not None:
            if _same_object(authz.target, obj):
                return True
            logger.error(
                "authzguard refused %s: the view fetched %r, not the object it was allowed",
                request.path,
                obj,
            )
        # Not the authorized object (or none was): a view reading another one is refused.
        if settings.HIDE_EXISTENCE:
            raise _not_found(view, obj)
        return False


class AuthorizedObjectMixin:
    """``get_object()`` returns the object the permission authorized: no second query.

    Put it before DRF's generic view or viewset. The object was looked up in the view's
    ``get_queryset()`` by its lookup kwarg (``filter_queryset()`` is not applied to it);
    ``check_object_permissions()`` still runs. Anything else (no authorized object of
    the queryset's model for this request) is DRF's own lookup.
    """

    request: Request
    kwargs: dict[str, Any]

    def get_object(self) -> Any:
        authz = getattr(self.request, "authz", None)
        target = authz.target if authz is not None and authz.allowed else None
        queryset = getattr(self, "queryset", None)
        model = getattr(queryset, "model", None)
        if (
            target is not None
            and lookup_kwarg(self) in self.kwargs
            and getattr(self, "authz_target", None) is None
            and (model is None or isinstance(target, model))
        ):
            self.check_object_permissions(self.request, target)  # type: ignore[attr-defined]
            return target
        return super().get_object()  # type: ignore[misc]


def filters_lists(view: Any) -> bool:
    """Whether the view narrows its lists with :class:`AuthzGuardFilterBackend`."""
    return any(
        isinstance(backend, type) and issubclass(backend, AuthzGuardFilterBackend)
        for backend in getattr(view, "filter_backends", ())
    )


def is_list_request(view: Any) -> bool:
    """A viewset's ``list``, or a GET on another view without the lookup kwarg."""
    if hasattr(view, "action"):  # a viewset: only ``list`` lists
        return getattr(view, "action", None) == "list"
    return lookup_kwarg(view) not in (getattr(view, "kwargs", None) or {})


class AuthzGuardFilterBackend(BaseFilterBackend):
    """Narrow ``list`` to the objects the policy allows (``authzguard.filter_queryset``).

    Detail actions are left alone: their object keeps its own decision (403 or 404).
    The policy action is the one the view maps ``list`` (or the GET) to.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        if not is_list_request(view):
            return queryset
        from authzguard.filtering import filter_queryset

        viewset_action = getattr(view, "action", None)
        action = declared_action(
            view, request.method or "GET", viewset_action, viewset=is_viewset(view)
        )
        resource = getattr(view, "authz_resource", None)
        if not isinstance(action, str) or not isinstance(resource, str):
            return queryset.none()  # misdeclared (a system check says so): show nothing
        return filter_queryset(request, action, queryset, kind=resource)
