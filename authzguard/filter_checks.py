"""System checks for list filtering: ids ``authzguard.E070`` - ``E079``.

Attribute types against their columns (for every kind with a model), and, for every
(kind, action) pair a list is filtered by (an ``AuthorizedListMixin`` view, a create
form's parent choices, a DRF view with ``AuthzGuardFilterBackend``, an admin with
``AuthzGuardAdminMixin``, an action marked ``filterable: true``), every rule condition
that cannot become SQL, named by rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.db import models

from authzguard.exceptions import PolicyError
from authzguard.filtering import pair_problems
from authzguard.policy.model import Policy
from authzguard.resolvers import get_model
from authzguard.sql_conditions import kind_columns, type_mismatches

MESSAGES: Sequence[tuple[str, type[Error], str, str]] = (
    (
        "authzguard.E070",
        Error,
        "Resource kind {kind!r}: {problem}; decide() denies every object with a value there.",
        "Declare the attribute with its column's type (str, int, bool; key for a primary or "
        "foreign key), or point field: at another column.",
    ),
    (
        "authzguard.E071",
        Error,
        "{origin} filters {kind!r} lists for {action!r}, but rule {rule!r} cannot become "
        "SQL: {problem}.",
        "Write the condition over the model's fields and forward relations (no property, "
        "no type: any, no list in a column), or do not filter this list by the policy.",
    ),
    (
        "authzguard.E072",
        Error,
        "{origin} filters {kind!r} lists for {action!r}, but {problem}.",
        "Point the attribute's field: at a column of the model (a list: at a to-many "
        "relation), or declare it type: any "
        "when no condition on this action reads it.",
    ),
    (
        "authzguard.E073",
        Error,
        "{origin} filters {kind!r} lists for {action!r}, but {problem}.",
        "Declare the action on the kind and set model: 'app_label.ModelName' on it (or "
        "give the view a model).",
    ),
)
_BY_ID = {check_id: (level, message, hint) for check_id, level, message, hint in MESSAGES}


def _message(check_id: str, obj: Any = None, **values: Any) -> CheckMessage:
    level, message, hint = _BY_ID[check_id]
    return level(message.format(**values), hint=hint.format(**values), obj=obj, id=check_id)


def type_messages(policy: Policy) -> list[CheckMessage]:
    """E070: attributes whose declared type is not their column's."""
    messages = []
    for kind in policy.resources.values():
        if not kind.model:
            continue
        try:
            model = get_model(kind.model)
        except LookupError:
            continue  # authzguard.E005 says so
        for problem in type_mismatches(kind, kind_columns(model, kind)):
            messages.append(_message("authzguard.E070", kind.name, kind=kind.name, problem=problem))
    return messages


def filtered_pair_messages(
    policy: Policy, origin: str, kind: str, action: str, model: type[models.Model] | None
) -> list[CheckMessage]:
    """E071-E073 for one list filtered by ``origin`` (a view name, or the policy)."""
    values = {"origin": origin, "kind": kind, "action": action}
    declared = policy.resources.get(kind)
    if declared is None or action not in declared.actions:
        return []  # authzguard.E004 names the undeclared kind or action
    if model is None and declared.model:
        try:
            model = get_model(declared.model)
        except LookupError:
            return []  # authzguard.E005
    if model is None:
        problem = "the kind declares no model: to filter"
        return [_message("authzguard.E073", origin, problem=problem, **values)]
    messages = []
    for rule, problem in pair_problems(policy, model, kind, action):
        if rule is None:
            messages.append(_message("authzguard.E072", origin, problem=problem, **values))
        else:
            messages.append(
                _message("authzguard.E071", origin, rule=rule, problem=problem, **values)
            )
    return messages


def filtered_pairs(policy: Policy) -> Iterator[tuple[str, str, str, type[models.Model] | None]]:
    """(origin, kind, action, model) of every list the policy or a view filters."""
    for kind in policy.resources.values():
        for action in kind.actions.values():
            if action.filterable:
                yield "The policy (filterable: true)", kind.name, action.name, None
    from authzguard.checks import iter_views
    from authzguard.middleware import declared_bindings

    for view in iter_views():
        view_class = getattr(view.callback, "view_class", None)
        try:
            declared = declared_bindings(view.callback)
        except ValueError:
            declared = None  # authzguard.E012
        if declared is not None:
            for binding in declared.bindings():
                if binding.listing:
                    # A create form's parent choices are of the parent's kind's model.
                    choices = binding is declared.choices
                    model = None if choices else _view_model(view_class)
                    yield view.view_name, binding.resource, binding.action, model
        drf_view = getattr(view.callback, "cls", None)
        if drf_view is not None:
            found = _drf_list(drf_view, getattr(view.callback, "actions", None))
            if found is not None:
                yield view.view_name, found[0], found[1], _view_model(drf_view)


def _view_model(view_class: Any) -> type[models.Model] | None:
    model = getattr(view_class, "model", None) or getattr(
        getattr(view_class, "queryset", None), "model", None
    )
    return model if isinstance(model, type) and issubclass(model, models.Model) else None


def _drf_list(view_class: Any, actions: Any) -> tuple[str, str] | None:
    """(kind, action) a DRF view's filter backend narrows, if it uses ours for a list."""
    try:
        from authzguard.contrib.drf import declared_action, filters_lists
    except ImportError:  # pragma: no cover - DRF is not installed
        return None
    if not filters_lists(view_class):
        return None
    if actions is not None and actions.get("get") != "list":
        return None  # a viewset's detail routes: nothing is narrowed there
    viewset = actions is not None
    action = declared_action(view_class, "GET", "list" if viewset else None, viewset=viewset)
    resource = getattr(view_class, "authz_resource", None)
    if isinstance(action, str) and isinstance(resource, str):
        return resource, action
    return None


@register(Tags.security, Tags.models)
def check_filtering(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Run the list-filtering checks (registered with Django's check framework)."""
    from authzguard.runtime import get_policy

    try:
        policy = get_policy().policy
    except (PolicyError, ValueError):
        return []  # authzguard.E003 reports it
    messages = type_messages(policy)
    seen: set[tuple[str, str, str]] = set()
    for origin, kind, action, model in filtered_pairs(policy):
        if (origin, kind, action) not in seen:
            seen.add((origin, kind, action))
            messages.extend(filtered_pair_messages(policy, origin, kind, action, model))
    return messages
