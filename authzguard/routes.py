"""The route inventory: every URL pattern, how authzguard protects it, and what can allow it.

It finds bindings exactly as the middleware does (``declared_bindings``, ``routes:``,
``is_exempt``, ``is_drf_guarded``, ``is_allow_listed``), so what it reports is what a
request meets. ``manage.py authzguard_routes`` prints it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from authzguard.conf import settings
from authzguard.decorators import BINDING_ATTR
from authzguard.guard import Binding, allowed_methods
from authzguard.middleware import (
    declared_bindings,
    is_drf_guarded,
    is_exempt,
    route_binding,
    view_path,
)
from authzguard.policy.compiler import CompiledPolicy

#: Flags that mean a request can reach the view with no authorization check.
UNPROTECTED = "unprotected"


@dataclass(frozen=True, slots=True)
class BoundMethod:
    methods: tuple[str, ...]
    action: str
    kind: str
    source: str | None
    param: str | None
    field: str | None
    rules: tuple[str, ...]


@dataclass(slots=True)
class RouteEntry:
    url: str
    view: str
    callback: str
    #: ``decorator``, ``mixin``, ``drf``, ``route``, ``exempt``, ``allow-listed`` or ``none``.
    binding: str
    bound: list[BoundMethod] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    exempted_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "view": self.view,
            "callback": self.callback,
            "binding": self.binding,
            "bound": [
                {
                    "methods": list(b.methods),
                    "action": b.action,
                    "kind": b.kind,
                    "source": b.source,
                    "param": b.param,
                    "field": b.field,
                    "rules": list(b.rules),
                }
                for b in self.bound
            ],
            "flags": list(self.flags),
            "exempted_by": self.exempted_by,
        }


def iter_patterns(
    patterns: Sequence[Any] | None = None, prefix: str = "", namespaces: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, Any]]:
    """``(url, view_name, callback)`` for every pattern of the URLconf, includes walked."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            spaces = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from iter_patterns(entry.url_patterns, prefix + str(entry.pattern), spaces)
        elif isinstance(entry, URLPattern):
            name = entry.name or view_path(entry.callback)
            yield prefix + str(entry.pattern), ":".join((*namespaces, name)), entry.callback


def _exempting_pattern(view_name: str, callback: Any) -> str | None:
    path = view_path(callback)
    for pattern in (*settings.ALLOWED_VIEWS, *settings.EXTRA_ALLOWED_VIEWS):
        if fnmatchcase(view_name, pattern) or fnmatchcase(path, pattern):
            return pattern
    return None


def _bound(
    policy: CompiledPolicy, methods: tuple[str, ...] | None, binding: Binding
) -> BoundMethod:
    kind = policy.policy.resources.get(binding.resource)
    action = kind.actions.get(binding.action) if kind is not None else None
    if methods is None:
        methods = allowed_methods(action) if action is not None else ()
    target = binding.target
    rules = tuple(
        r.id
        for r in policy.policy.rules
        if r.effect == "allow" and r.resource == binding.resource and binding.action in r.actions
    )
    if binding.resolver is not None:
        found: str | None = f"resolver {getattr(binding.resolver, '__qualname__', 'callable')}"
    elif target is not None and target.resolver:
        found = f"resolver {target.resolver}"
    else:
        found = target.field if target is not None else None
    return BoundMethod(
        methods,
        binding.action,
        binding.resource,
        target.source if target is not None else None,
        target.param if target is not None else None,
        found,
        rules,
    )


def _state_change_by_get(policy: CompiledPolicy, binding: Binding, methods: Sequence[str]) -> bool:
    kind = policy.policy.resources.get(binding.resource)
    action = kind.actions.get(binding.action) if kind is not None else None
    unsafe = action is None or not action.safe
    return unsafe and "GET" in methods and not binding.form_display


def inventory(policy: CompiledPolicy) -> list[RouteEntry]:
    entries: list[RouteEntry] = []
    for url, view_name, callback in iter_patterns():
        entry = RouteEntry("/" + url, view_name, view_path(callback), "none")
        declared = declared_bindings(callback)
        route = policy.routes.get(view_name)
        if declared is not None:
            entry.binding = "decorator" if getattr(callback, BINDING_ATTR, None) else "mixin"
            for method, binding in sorted(declared.by_method.items()):
                entry.bound.append(_bound(policy, (method,), binding))
            if declared.fallback is not None:
                entry.bound.append(_bound(policy, None, declared.fallback))
            if route is not None:
                entry.flags.append("bound-twice")
        elif route is not None:
            entry.binding = "route"
            entry.bound.append(_bound(policy, None, route_binding(route)))
        elif is_drf_guarded(callback):
            entry.binding = "drf"
        elif is_exempt(callback):
            entry.binding = "exempt"
        elif (pattern := _exempting_pattern(view_name, callback)) is not None:
            entry.binding, entry.exempted_by = "allow-listed", pattern
            if "*" in pattern:
                entry.flags.append("wildcard-exemption")
        else:
            entry.flags.append("unbound")
            if not settings.DENY_BY_DEFAULT:
                entry.flags.append(UNPROTECTED)
        if declared is not None:
            pairs = [*declared.by_method.items()]
            if declared.fallback is not None:
                pairs.append(("*", declared.fallback))
            for method, binding in pairs:
                bound = _bound(policy, None if method == "*" else (method,), binding)
                if _state_change_by_get(policy, binding, bound.methods):
                    entry.flags.append("state-change-by-get")
                    break
        elif route is not None:
            binding = route_binding(route)
            if _state_change_by_get(policy, binding, _bound(policy, None, binding).methods):
                entry.flags.append("state-change-by-get")
        entries.append(entry)
    return entries
