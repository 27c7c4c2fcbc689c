"""System checks for DRF views guarded by ``AuthzGuardPermission`` (``authzguard.E03x``).

Run by :func:`authzguard.checks.check_enforcement` for each such view of the URLconf
(DRF is an optional extra: this module is only imported when a view uses it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.checks import CheckMessage, Error
from django.core.exceptions import FieldDoesNotExist
from rest_framework.relations import PrimaryKeyRelatedField, SlugRelatedField

from authzguard.checks import UrlView, binding_messages
from authzguard.contrib.drf import (
    SAFE_METHODS,
    Undecidable,
    creates_under_parent,
    declared_action,
    has_own_queryset,
    lookup_kwarg,
    lookup_model_field,
    static_model_label,
    view_binding,
)
from authzguard.guard import Binding, allowed_methods
from authzguard.mixins import HTTP_METHODS
from authzguard.policy.model import Policy
from authzguard.resolvers import get_model, lookup_field, target_model

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
    (
        "authzguard.E035",
        Error,
        "{view}: the viewset maps no authz action to {actions}: every such request is "
        "refused (405).",
        "Map each viewset action in authz_actions ({example}), or leave the action out of "
        "the viewset (compose it from DRF's mixins, or drop its method from "
        "http_method_names).",
    ),
    (
        "authzguard.E036",
        Error,
        "{view}: the viewset's authz_actions is keyed by HTTP method ({keys}): a viewset's "
        "keys are its action names, so these are never read (GET serves both list and "
        "retrieve).",
        "Key authz_actions by viewset action: {{'list': 'list', 'retrieve': 'view', "
        "'create': 'create', 'update': 'update', 'partial_update': 'update', "
        "'destroy': 'delete'}}.",
    ),
    (
        "authzguard.E037",
        Error,
        "{view}: authz_actions key {key!r} names no {what} of the view: it is never read.",
        "Fix the spelling, or remove the key ({hint}).",
    ),
    (
        "authzguard.E038",
        Error,
        "{view}: the create is authorized against the parent named by {param!r}, but "
        "{serializer} saves {problem}: the new object could belong to another parent than "
        "the one the policy allowed.",
        "Give the serializer a writable field {param!r} (source {param!r}) that reads the "
        "parent by {field!r}: a PrimaryKeyRelatedField for 'pk', a SlugRelatedField with "
        "slug_field={field!r} otherwise; or name that field in authz_parent.",
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
        served = getattr(callback.cls, "http_method_names", ())
        return {m.upper(): a for m, a in actions.items() if m not in _NOT_HANDLERS and m in served}
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


def _action_key_messages(name: str, view: Any, viewset: bool) -> list[CheckMessage]:
    """Keys of ``authz_actions`` that are never read (E036 on viewsets, E037)."""
    actions = getattr(view, "authz_actions", None)
    if not isinstance(actions, Mapping):
        return []
    if not viewset:
        return [
            _message(
                "authzguard.E037",
                name,
                view=name,
                key=key,
                what="HTTP method",
                hint="keys are upper-case HTTP methods: 'GET', 'DELETE'",
            )
            for key in actions
            if key not in HTTP_METHODS
        ]
    methods = sorted(str(key) for key in actions if key in HTTP_METHODS)
    if methods:
        return [_message("authzguard.E036", name, view=name, keys=", ".join(methods))]
    view_class = view if isinstance(view, type) else type(view)
    return [
        _message(
            "authzguard.E037",
            name,
            view=name,
            key=key,
            what="action",
            hint="keys are viewset actions: 'list', 'retrieve', an @action's name",
        )
        for key in actions
        if not isinstance(key, str) or not callable(getattr(view_class, key, None))
    ]


def _parent_field_messages(
    name: str, view: Any, binding: Binding, policy: Policy
) -> list[CheckMessage]:
    """The serializer must save the parent that was authorized (E038)."""
    serializer_class = getattr(view, "serializer_class", None)
    spec = binding.target
    if serializer_class is None or spec is None or not spec.param:
        return []  # get_serializer_class() decides at run time
    try:
        fields = serializer_class().fields
    except Exception:  # a serializer that needs its context: not checked statically
        return []
    model = target_model(spec, policy.resources[binding.resource])
    problem = _parent_field_problem(fields.get(spec.param), spec.param, spec.field, model)
    if problem is None:
        return []
    return [
        _message(
            "authzguard.E038",
            name,
            view=name,
            param=spec.param,
            serializer=serializer_class.__name__,
            problem=problem,
            field=spec.field,
        )
    ]


def _parent_field_problem(field: Any, param: str, by: str, model: Any) -> str | None:
    if field is None or getattr(field, "read_only", False):
        return f"no writable field {param!r}"
    if field.source != param:
        return f"field {param!r} to {field.source!r}"
    if by == "pk":
        right_kind = isinstance(field, PrimaryKeyRelatedField)
    else:
        right_kind = isinstance(field, SlugRelatedField) and field.slug_field == by
    if not right_kind:
        return f"field {param!r} as a {type(field).__name__}, not by {by!r}"
    queryset = getattr(field, "queryset", None)
    if getattr(queryset, "model", None) is not model:
        return f"field {param!r} from {getattr(queryset, 'model', None)}, not {model._meta.label}"
    return None


def drf_view_messages(url: UrlView, policy: Policy) -> list[CheckMessage]:
    """Every DRF mistake of one URL pattern's view (``E004`` to ``E007``, ``E03x``)."""
    name, view = url.view_name, _view(url.callback)
    resource = getattr(view, "authz_resource", None)
    if not isinstance(resource, str) or not resource:
        return [_message("authzguard.E034", name, view=name, problem="no authz_resource")]
    handlers = _handlers(url.callback)
    viewset = getattr(url.callback, "actions", None) is not None
    mapped = {m: declared_action(view, m, a, viewset=viewset) for m, a in handlers.items()}
    keyed = _action_key_messages(name, view, viewset)
    if keyed:
        return keyed
    messages: list[CheckMessage] = []
    if viewset:
        unmapped = sorted({str(handlers[m]) for m, action in mapped.items() if action is None})
        if unmapped:
            example = ", ".join(f"{a!r}: ..." for a in unmapped)
            actions = ", ".join(unmapped)
            messages.append(
                _message("authzguard.E035", name, view=name, actions=actions, example=example)
            )
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
    seen: set[str] = set()
    for method, action in mapped.items():
        if action is None:
            continue  # unmapped: a 405 at run time, as intended
        if not isinstance(action, str) or not action:
            problem = f"{method} maps to {action!r}, not an action name"
            return [_message("authzguard.E034", name, view=name, problem=problem)]
        parent = creates_under_parent(view, method, handlers[method], url.captured)
        try:
            binding = view_binding(
                view, resource, action, dict.fromkeys(url.captured), parent=parent
            )
        except Undecidable:
            kwargs = ", ".join(sorted(url.captured))
            kwarg = lookup_kwarg(view)
            return [_message("authzguard.E033", name, view=name, kwargs=kwargs, kwarg=kwarg)]
        except (ValueError, TypeError) as exc:
            return [_message("authzguard.E034", name, view=name, problem=exc)]
        custom = parent or getattr(view, "authz_target", None) is not None
        found = binding_messages(
            name, binding if custom else Binding(action, resource, origin="drf"), policy
        )
        if found:
            messages.extend(m for m in found if m.msg not in seen)
            seen.update(m.msg for m in found)
            continue
        if parent and "parent" not in seen:
            seen.add("parent")
            messages.extend(_parent_field_messages(name, view, binding, policy))
        if binding.target is not None and not custom and "detail" not in seen:
            seen.add("detail")
            messages.extend(_detail_messages(name, view, binding, policy))
        accepted = allowed_methods(policy.resources[binding.resource].actions[action])
        if method not in accepted:
            messages.append(
                _message(
                    "authzguard.E031",
                    name,
                    view=name,
                    method=method,
                    name=handlers[method] or method.lower(),
                    action=action,
                    resource=binding.resource,
                    accepted=", ".join(accepted),
                )
            )
    return messages
