"""System checks for enforcement: ids ``authzguard.E0xx`` / ``authzguard.W0xx``.

Every start-up mistake that would otherwise surface as a wrong decision at run time:
middleware order, a policy that does not load, bindings naming undeclared actions,
unknown models or fields, views bound twice, routes naming no URL, unbound views under
deny-by-default and state-changing views that skip CSRF.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.module_loading import import_string

from authzguard.attribute_checks import ATTRIBUTE_MESSAGES, attribute_messages
from authzguard.conf import settings
from authzguard.exceptions import PolicyError
from authzguard.guard import Binding, allowed_methods
from authzguard.middleware import (
    declared_bindings,
    is_allow_listed,
    is_drf_guarded,
    is_exempt,
    route_binding,
    view_path,
)
from authzguard.policy.model import Policy
from authzguard.resolvers import get_model, lookup_field, target_model
from authzguard.view_checks import exempt_list_messages, method_mapping_messages

MIDDLEWARE_PATH = "authzguard.middleware.AuthzGuardMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"

OUTAGE_MIDDLEWARE = "authzguard.outage.ServiceUnavailableMiddleware"
#: Layers that use the database or the session store on every request.
_STATEFUL_MIDDLEWARE = (
    SESSION_MIDDLEWARE,
    AUTH_MIDDLEWARE,
    "authzguard.sessions.middleware.SessionIndexMiddleware",
)

_AFTER = f"Place {MIDDLEWARE_PATH!r} after {SESSION_MIDDLEWARE!r} and {AUTH_MIDDLEWARE!r}"

#: Every message these checks can produce, by id: (level, message, hint).
MESSAGES: Sequence[tuple[str, type[Error] | type[Warning], str, str]] = (
    (
        "authzguard.E001",
        Error,
        "AuthzGuardMiddleware must come after SessionMiddleware and AuthenticationMiddleware "
        "(it needs request.user).",
        f"{_AFTER} in MIDDLEWARE.",
    ),
    (
        "authzguard.W001",
        Warning,
        "AuthzGuardMiddleware comes before CsrfViewMiddleware: forged requests reach "
        "target lookups and the audit log before CSRF refuses them.",
        f"Place {MIDDLEWARE_PATH!r} after {CSRF_MIDDLEWARE!r}.",
    ),
    (
        "authzguard.W002",
        Warning,
        "AuthzGuardMiddleware is not installed: @authorize views still protect themselves "
        "({views}), but routes: bindings and AUTHZGUARD_DENY_BY_DEFAULT are not enforced.",
        f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, after {AUTH_MIDDLEWARE!r}.",
    ),
    (
        "authzguard.E002",
        Error,
        "The policy binds views in routes: ({views}) but AuthzGuardMiddleware is not "
        "installed: those views run unprotected.",
        f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, after {AUTH_MIDDLEWARE!r}.",
    ),
    (
        "authzguard.E003",
        Error,
        "The policy does not load: {finding}",
        "Fix the policy file (run `authzguard lint` on AUTHZGUARD_POLICY_PATHS); until then "
        "every bound or unlisted view is refused.",
    ),
    (
        "authzguard.E004",
        Error,
        "{view}: the {origin} binding names {what}, which the policy does not declare.",
        "Declare it under resources: in the policy, or fix the name in the binding.",
    ),
    (
        "authzguard.E005",
        Error,
        "{view}: the target of {kind!r} has no model to look up ({problem}).",
        "Set model: 'app_label.ModelName' on the resource kind or the target "
        "(authorize(..., model=...)), naming an installed model.",
    ),
    (
        "authzguard.E006",
        Error,
        "{view}: target field {field!r} does not exist on {model} ({problem}).",
        "Use a concrete field of the model (pk, email, slug, owner__email...).",
    ),
    (
        "authzguard.E007",
        Error,
        "{view}: resolver {resolver!r} cannot be imported or is not callable ({problem}).",
        "Give the dotted path of a callable resolver(request, **view_kwargs).",
    ),
    (
        "authzguard.E008",
        Error,
        "{view} is bound twice: in code ({origin}) and in the policy's routes: "
        "(it is refused at run time).",
        "Keep one binding: remove the decorator/mixin or the routes: entry.",
    ),
    (
        "authzguard.E009",
        Error,
        "routes: entry {view!r} names no URL in the URLconf.",
        "Use a URL name as resolver_match.view_name spells it ('namespace:name').",
    ),
    (
        "authzguard.W003",
        Warning,
        "{view} ({path}) has no binding and no exemption: AUTHZGUARD_DENY_BY_DEFAULT "
        "refuses every request to it.",
        "Bind it (@authorize, AuthorizeMixin or routes:), mark it @authz_exempt, or add "
        "its name to AUTHZGUARD_ALLOWED_VIEWS.",
    ),
    (
        "authzguard.E010",
        Error,
        "{view} is csrf_exempt but bound to the state-changing action {action!r}: a forged "
        "cross-site request would act with the victim's authority.",
        "Remove @csrf_exempt (send the CSRF token from your client), or bind a safe action.",
    ),
    (
        "authzguard.E011",
        Error,
        "{view}: the target parameter {param!r} comes from the path, but the URL pattern "
        "does not capture it (captures: {captured}).",
        "Capture it in the URL (<int:{param}>) or choose another source.",
    ),
    (
        "authzguard.W080",
        Warning,
        "ServiceUnavailableMiddleware comes after {layers}: while the database or Redis "
        "is down, a failure there (a session saved to Redis) still answers 500, not 503.",
        f"Place {OUTAGE_MIDDLEWARE!r} first in MIDDLEWARE.",
    ),
    (
        "authzguard.E012",
        Error,
        "{view}: the view's declaration is incomplete ({problem}).",
        "Set authz_action and authz_resource on the AuthorizeMixin subclass.",
    ),
)
MESSAGES = (*MESSAGES, *ATTRIBUTE_MESSAGES)
_BY_ID = {check_id: (level, message, hint) for check_id, level, message, hint in MESSAGES}


def _message(check_id: str, obj: Any = None, **values: Any) -> CheckMessage:
    level, message, hint = _BY_ID[check_id]
    return level(message.format(**values), hint=hint.format(**values), obj=obj, id=check_id)


@dataclass(frozen=True, slots=True)
class UrlView:
    """One view in the URLconf, named as ``resolver_match.view_name`` would name it."""

    view_name: str
    callback: Any
    captured: frozenset[str]


def _captured(pattern: Any) -> set[str]:
    if isinstance(pattern, RoutePattern):
        return set(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return set(pattern.regex.groupindex)
    return set()


def iter_views(
    patterns: Sequence[Any] | None = None,
    namespaces: tuple[str, ...] = (),
    captured: frozenset[str] = frozenset(),
) -> Iterator[UrlView]:
    """Every view of the root URLconf (or of ``patterns``), depth first."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            spaces = namespaces + ((entry.namespace,) if entry.namespace else ())
            inner = captured | _captured(entry.pattern) | set(entry.default_kwargs)
            yield from iter_views(entry.url_patterns, spaces, frozenset(inner))
        elif isinstance(entry, URLPattern):
            name = entry.name or view_path(entry.callback)
            yield UrlView(
                ":".join((*namespaces, name)),
                entry.callback,
                frozenset(captured | _captured(entry.pattern) | set(entry.default_args)),
            )


def outage_middleware_messages() -> list[CheckMessage]:
    """``ServiceUnavailableMiddleware`` covers only the layers listed after it."""
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or [])
    if OUTAGE_MIDDLEWARE not in middleware:
        return []
    before = middleware[: middleware.index(OUTAGE_MIDDLEWARE)]
    layers = [path.rsplit(".", 1)[-1] for path in _STATEFUL_MIDDLEWARE if path in before]
    return [_message("authzguard.W080", layers=", ".join(layers))] if layers else []


def _middleware_messages() -> tuple[list[CheckMessage], bool]:
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [], False
    index = middleware.index(MIDDLEWARE_PATH)
    messages: list[CheckMessage] = []
    for needed in (SESSION_MIDDLEWARE, AUTH_MIDDLEWARE):
        if needed not in middleware[:index]:
            messages.append(_message("authzguard.E001"))
            break
    if CSRF_MIDDLEWARE in middleware[index:]:
        messages.append(_message("authzguard.W001"))
    return messages, True


def binding_messages(view: str, binding: Binding, policy: Policy) -> list[CheckMessage]:
    origin = {"route": "routes:", "mixin": "AuthorizeMixin", "drf": "DRF"}.get(
        binding.origin, "@authorize"
    )
    kind = policy.resources.get(binding.resource)
    if kind is None:
        what = f"resource {binding.resource!r}"
        return [_message("authzguard.E004", view, view=view, origin=origin, what=what)]
    if binding.action not in kind.actions:
        what = f"action {binding.action!r} of {binding.resource!r}"
        return [_message("authzguard.E004", view, view=view, origin=origin, what=what)]
    spec = binding.target
    if spec is None or binding.resolver is not None:
        return []
    if spec.resolver:
        try:
            if not callable(import_string(spec.resolver)):
                raise TypeError("not callable")
        except (ImportError, TypeError) as exc:
            return [
                _message("authzguard.E007", view, view=view, resolver=spec.resolver, problem=exc)
            ]
        return []
    try:
        model = target_model(spec, kind)
    except LookupError as exc:
        return [_message("authzguard.E005", view, view=view, kind=kind.name, problem=exc)]
    try:
        lookup_field(model, spec.field)
    except FieldDoesNotExist as exc:
        return [
            _message(
                "authzguard.E006",
                view,
                view=view,
                field=spec.field,
                model=model._meta.label,
                problem=exc,
            )
        ]
    return []


def _attribute_messages(policy: Policy) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for kind in policy.resources.values():
        if not kind.model:
            continue
        try:
            get_model(kind.model)
        except LookupError as exc:
            messages.append(
                _message("authzguard.E005", kind.name, view=kind.name, kind=kind.name, problem=exc)
            )
            continue
        messages.extend(attribute_messages(kind))
    return messages


def _view_binding_messages(view: UrlView, binding: Binding, policy: Policy) -> list[CheckMessage]:
    """What is wrong with one of a view's bindings: names, target, path capture, CSRF."""
    found = binding_messages(view.view_name, binding, policy)
    if found:
        return found
    spec = binding.target
    if (
        spec is not None
        and spec.param
        and spec.source == "path"
        and not spec.resolver
        and binding.resolver is None
        and spec.param not in view.captured
    ):
        found.append(
            _message(
                "authzguard.E011",
                view.view_name,
                view=view.view_name,
                param=spec.param,
                captured=", ".join(sorted(view.captured)) or "none",
            )
        )
    action = policy.resources[binding.resource].actions[binding.action]
    if getattr(view.callback, "csrf_exempt", False) and not set(allowed_methods(action)).issubset(
        {"GET", "HEAD", "OPTIONS", "TRACE"}
    ):
        found.append(
            _message("authzguard.E010", view.view_name, view=view.view_name, action=binding.action)
        )
    return found


@register(Tags.security, Tags.urls)
def check_enforcement(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Run every enforcement check (registered with Django's check framework)."""
    from authzguard.runtime import get_policy

    messages, installed = _middleware_messages()
    messages.extend(outage_middleware_messages())
    try:
        policy = get_policy().policy
    except PolicyError as exc:
        errors = [f for f in exc.findings if f.severity == "error"] or list(exc.findings)
        messages.extend(_message("authzguard.E003", finding=f.format()) for f in errors)
        return messages
    except Exception as exc:  # a setting or file problem the loader did not classify
        messages.append(_message("authzguard.E003", finding=f"{type(exc).__name__}: {exc}"))
        return messages

    messages.extend(_attribute_messages(policy))
    messages.extend(exempt_list_messages())
    views = list(iter_views())
    names = {view.view_name for view in views}
    decorated: list[str] = []
    for view in views:
        try:
            declared = declared_bindings(view.callback)
        except ValueError as exc:  # a mixin missing authz_action / authz_resource
            messages.append(
                _message("authzguard.E012", view.view_name, view=view.view_name, problem=exc)
            )
            continue
        route = policy.routes.get(view.view_name)
        bindings = declared.bindings() if declared is not None else ()
        if declared is not None:
            decorated.append(view.view_name)
            if route is not None:
                origin = "AuthorizeMixin" if bindings[0].origin == "mixin" else "@authorize"
                messages.append(
                    _message("authzguard.E008", view.view_name, view=view.view_name, origin=origin)
                )
            messages.extend(method_mapping_messages(view.view_name, view.callback, policy))
        elif route is not None:
            bindings = (route_binding(route),)
        if not bindings and is_drf_guarded(view.callback):
            from authzguard.contrib.drf_checks import drf_view_messages

            messages.extend(drf_view_messages(view, policy))
            continue
        if not bindings:
            if (
                settings.DENY_BY_DEFAULT
                and installed
                and not is_exempt(view.callback)
                and not is_drf_guarded(view.callback)
                and not is_allow_listed(view.view_name, view.callback)
            ):
                messages.append(
                    _message(
                        "authzguard.W003",
                        view.view_name,
                        view=view.view_name,
                        path=view_path(view.callback),
                    )
                )
            continue
        found: list[CheckMessage] = []
        for binding in bindings:
            found.extend(m for m in _view_binding_messages(view, binding, policy) if m not in found)
        messages.extend(found)
    for route_name in policy.routes:
        if route_name not in names:
            messages.append(_message("authzguard.E009", route_name, view=route_name))
    if not installed:
        if decorated:
            messages.append(_message("authzguard.W002", views=", ".join(sorted(decorated))))
        if policy.routes:
            messages.append(_message("authzguard.E002", views=", ".join(sorted(policy.routes))))
    return messages
