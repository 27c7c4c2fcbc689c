"""System checks for DRF views guarded by ``AuthzGuardPermission`` (``authzguard.E03x``).

Run by :func:`authzguard.checks.check_enforcement` for each such view of the URLconf
(DRF is an optional extra: this module is only imported when a view uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error
from django.core.exceptions import FieldDoesNotExist

from authzguard.checks import UrlView, binding_messages
from authzguard.contrib.drf import (
    SAFE_METHODS,
    Undecidable,
    declared_action,
    has_own_queryset,
    lookup_kwarg,
    lookup_model_field,
    static_model_label,
    view_binding,
)
from authzguard.guard import Binding, allowed_methods
from authzguard.policy.model import Policy
from authzguard.resolvers import get_model, lookup_field

#: Every message these checks can produce, by id: (level, message, hint).
MESSAGES: Sequence[tuple[str, type[Error], str, str]] = (
    (
        "authzguard.E030",
        Error,
        "{view}: the single authz_action {action!r} stands for safe methods ({safe}) and "
        "unsafe ones ({unsafe}): a request is refused (405) unless the action accepts it.",
        "Map each method to its own action: authz_actions = {{'GET': 'read', 'DELETE': "
        "'delete'}} (a viewset: by action name, {{'retrieve': 'read', 'destroy': 'delete'}}).",
    ),
    (
        "authzguard.E031",
        Error,
        "{view}: {method} ({name}) maps to action {action!r} of {resource!r}, which accepts "
        "{accepted}: every such request is refused (405).",
        "Map {method} to an action that declares it (a DRF update: methods: [PUT, PATCH] "
        "in the policy), or leave it unmapped.",
    ),
    (
        "authzguard.E032",
        Error,
        "{view}: a detail view (URL kwarg {kwarg!r}) with no model to look its object up in: "
        "no queryset, no get_queryset(), and resource kind {kind!r} names no model.",
        "Set queryset on the view, override get_queryset(), or give the kind a model:.",
    ),
    (
        "authzguard.E033",
        Error,
        "{view}: the URL captures {kwargs} but not the lookup kwarg {kwarg!r}: its requests "
        "would be decided without their object, so every one is refused.",
        "Name the object's kwarg in lookup_url_kwarg (and its field in lookup_field), or "
        "declare authz_target.",
    ),
    (
        "authzguard.E034",
        Error,
        "{view}: the DRF view's authz declaration is invalid ({problem}).",
        "Set authz_resource, and authz_action or authz_actions (methods or viewset actions "
        "to action names); authz_target/authz_source/authz_model/authz_field as for "
        "@authorize.",
    ),
)
_BY_ID = {check_id: (level, message, hint) for check_id, level, message, hint in MESSAGES}
_NOT_HANDLERS = frozenset({"options", "head", "trace"})


def _message(check_id: str, obj: Any = None, **values: Any) -> CheckMessage:
    level, message, hint = _BY_ID[check_id]
    return level(message.format(**values), hint=hint.format(**values), obj=obj, id=check_id)


def _view(callback: Any) -> Any:
    """The view as a request would see it (``as_view()`` keyword arguments included)."""
    try:
        return callback.cls(**getattr(callback, "initkwargs", {}))
    except Exception:  # a constructor that needs more: read the class
        return callback.cls


def _handlers(callback: Any) -> dict[str, str | None]:
    """The view's methods (upper case) and, for a viewset, their actions."""
    actions: dict[str, str] | None = getattr(callback, "actions", None)
    if actions is not None:
        return {m.upper(): a for m, a in actions.items() if m not in _NOT_HANDLERS}
    cls = callback.cls
    return {
        m.upper(): None for m in cls.http_method_names if m not in _NOT_HANDLERS and hasattr(cls, m)
    }


def _detail_messages(name: str, view: Any, binding: Binding, policy: Policy) -> list[CheckMessage]:
    kind = policy.resources[binding.resource]
    label = static_model_label(view, kind)
    if label is None:
        if has_own_queryset(view):
            return []  # get_queryset() names it at run time
        kwarg = lookup_kwarg(view)
        return [_message("authzguard.E032", name, view=name, kwarg=kwarg, kind=kind.name)]
    try:
        lookup_field(get_model(label), lookup_model_field(view))
    except (LookupError, FieldDoesNotExist) as exc:
        problem = f"lookup_field {lookup_model_field(view)!r} on {label}: {exc}"
        return [_message("authzguard.E034", name, view=name, problem=problem)]
    return []


def drf_view_messages(url: UrlView, policy: Policy) -> list[CheckMessage]:
    """Every DRF mistake of one URL pattern's view (``E004`` to ``E007``, ``E03x``)."""
    name, view = url.view_name, _view(url.callback)
    resource = getattr(view, "authz_resource", None)
    if not isinstance(resource, str) or not resource:
        return [_message("authzguard.E034", name, view=name, problem="no authz_resource")]
    handlers = _handlers(url.callback)
    mapped = {m: declared_action(view, m, a) for m, a in handlers.items()}
    viewset = getattr(url.callback, "actions", None) is not None
    if not viewset and all(action is None for action in mapped.values()):
        # (A router's list or detail route may leave all its actions unmapped: 405s.)
        return [_message("authzguard.E034", name, view=name, problem="no authz action")]
    single = getattr(view, "authz_actions", None) is None
    if single and len({m in SAFE_METHODS for m in mapped}) > 1:
        safe = ", ".join(sorted(m for m in mapped if m in SAFE_METHODS))
        unsafe = ", ".join(sorted(m for m in mapped if m not in SAFE_METHODS))
        action = getattr(view, "authz_action", None)
        return [
            _message("authzguard.E030", name, view=name, action=action, safe=safe, unsafe=unsafe)
        ]
    messages: list[CheckMessage] = []
    seen: set[str] = set()
    for method, action in mapped.items():
        if action is None:
            continue  # unmapped: a 405 at run time, as intended
        if not isinstance(action, str) or not action:
            problem = f"{method} maps to {action!r}, not an action name"
            return [_message("authzguard.E034", name, view=name, problem=problem)]
        try:
            binding = view_binding(view, resource, action, dict.fromkeys(url.captured))
        except Undecidable:
            kwargs = ", ".join(sorted(url.captured))
            kwarg = lookup_kwarg(view)
            return [_message("authzguard.E033", name, view=name, kwargs=kwargs, kwarg=kwarg)]
        except (ValueError, TypeError) as exc:
            return [_message("authzguard.E034", name, view=name, problem=exc)]
        custom = getattr(view, "authz_target", None) is not None
        found = binding_messages(
            name, binding if custom else Binding(action, resource, origin="drf"), policy
        )
        if found:
            messages.extend(m for m in found if m.msg not in seen)
            seen.update(m.msg for m in found)
            continue
        if binding.target is not None and not custom and "detail" not in seen:
            seen.add("detail")
            messages.extend(_detail_messages(name, view, binding, policy))
        accepted = allowed_methods(policy.resources[resource].actions[action])
        if method not in accepted:
            messages.append(
                _message(
                    "authzguard.E031",
                    name,
                    view=name,
                    method=method,
                    name=handlers[method] or method.lower(),
                    action=action,
                    resource=resource,
                    accepted=", ".join(accepted),
                )
            )
    return messages
