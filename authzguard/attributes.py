"""Resource attributes and the model paths they read: what each costs, and what cannot work.

An attribute path (``owner``, ``project.owner``, ``project__team``) is walked through the
kind's model by :func:`authzguard.resolvers.path_steps`. Forward relations before the
last part are joined into the target's own query; a to-many relation at the end (a
many-to-many, a reverse foreign key or many-to-many) is read as the list of its keys in
one query of its own. :func:`attribute_column` describes where an attribute's values
live, for code that turns conditions into queries; :func:`path_problem` says why a path
can never be read (the system checks report it); :func:`plan_attributes` works out,
once per binding, which to-many attributes a request must read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import models

from authzguard.policy import conditions
from authzguard.policy.model import Attribute, Policy, ResourceKind
from authzguard.resolvers import (
    get_model,
    is_to_many,
    path_parts,
    path_steps,
    read_to_many,
    resource_attributes,
    to_many_lookup,
)


@dataclass(frozen=True, slots=True)
class AttributeColumn:
    """Where an attribute's values live in the database, seen from the kind's model."""

    #: The ORM lookup from the kind's model: ``owner``, ``project__owner``, ``team``.
    lookup: str
    #: A to-many relation: the value is the list of the related objects' keys.
    to_many: bool
    #: The field the path ends on (a relation, forward or reverse, or a plain field).
    field: Any
    #: The concrete field whose values the attribute holds: the field itself, a foreign
    #: key's target field, or a to-many relation's related primary key.
    column: models.Field[Any, Any]


@lru_cache(maxsize=1024)
def column_for(model: type[models.Model], path: str) -> AttributeColumn | None:
    """The :class:`AttributeColumn` of ``path`` on ``model``; ``None`` when the path is
    not a database path (a property or plain attribute on the way) or cannot be read."""
    if path_problem(model, path, "list") is not None:
        return None
    steps = path_steps(model, path)
    if len(steps) != len(path_parts(path)) or any(step.field is None for step in steps):
        return None
    last = steps[-1].field
    if is_to_many(last):
        column = last.related_model._meta.pk
    elif last.is_relation:
        column = last.target_field
    else:
        column = last
    if column is None or not getattr(column, "concrete", False):
        return None
    lookup = "__".join(step.part if step.part == "pk" else step.field.name for step in steps)
    return AttributeColumn(lookup, is_to_many(last), last, column)


def attribute_column(kind: ResourceKind, name: str) -> AttributeColumn | None:
    """Where attribute ``name`` of ``kind`` lives in the database (``None``: it does not,
    or the kind has no model). ``KeyError`` for an undeclared attribute."""
    attribute = kind.attributes[name]
    if not kind.model:
        return None
    return column_for(get_model(kind.model), attribute.field or attribute.name)


# -- what can never be read ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathProblem:
    """Why an attribute path can never give a usable value; ``check_id`` reports it."""

    check_id: str
    reason: str


@lru_cache(maxsize=1024)
def path_problem(model: type[models.Model], path: str, declared: str) -> PathProblem | None:
    """Why ``path``, declared of type ``declared``, cannot be read from ``model``."""
    parts = path_parts(path)
    steps = path_steps(model, path)
    last = steps[-1]
    if last.field is None:
        if hasattr(last.model, last.part):
            return None  # a property or plain attribute: nothing past it can be checked
        return PathProblem(
            "authzguard.E060", f"{last.model._meta.label} has no field {last.part!r}"
        )
    if len(steps) == len(parts):
        if is_to_many(last.field) and declared != "list":
            return PathProblem(
                "authzguard.E061",
                f"{last.part!r} is a to-many relation (a list of keys), declared {declared}",
            )
        return None
    if last.field.is_relation and not is_to_many(last.field):
        return None  # a generic foreign key: read at run time, past what a check can see
    if is_to_many(last.field):
        return PathProblem(
            "authzguard.E062",
            f"{last.part!r} is a to-many relation: only the last part of a path may be one",
        )
    return PathProblem("authzguard.E060", f"{last.part!r} is not a relation: nothing follows it")


def attribute_problem(kind: ResourceKind, attribute: Attribute) -> PathProblem | None:
    """Why ``attribute`` of ``kind`` can never be read (``None`` without a model)."""
    if not kind.model:
        return None
    return path_problem(get_model(kind.model), attribute.field or attribute.name, attribute.type)


# -- what a request reads ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributePlan:
    """How a binding reads its target's attributes: the to-many ones its action's rules
    read, each one query, and none of the others."""

    kind: ResourceKind
    #: To-many attributes no rule of the (kind, action) reads: never queried.
    skip: frozenset[str]
    #: ``(model, lookup)`` of each to-many attribute read, on the kind's model.
    lists: tuple[tuple[type[models.Model], str], ...]

    def read(self, obj: object) -> Mapping[str, object]:
        """The attributes of ``obj``: one query per to-many attribute in ``lists``."""
        return resource_attributes(obj, self.kind, self.skip)

    def read_nothing(self) -> None:
        """The queries :meth:`read` runs, matching no object: what a missing object costs
        when counting queries must not tell "missing" from "forbidden"."""
        for model, lookup in self.lists:
            read_to_many(model, lookup, None)


def plan_attributes(policy: Policy, kind: ResourceKind, action: str) -> AttributePlan:
    """The :class:`AttributePlan` of ``action`` on ``kind`` (walks the policy's rules once)."""
    model: type[models.Model] | None = None
    if kind.model:
        try:
            model = get_model(kind.model)
        except LookupError:  # a system check reports it
            model = None
    read = _read_by(policy, kind.name, action)
    skip: set[str] = set()
    lists: list[tuple[type[models.Model], str]] = []
    for name, attribute in kind.attributes.items():
        lookup = None if model is None else to_many_lookup(model, attribute.field or name)
        if lookup is None or model is None:
            continue
        if name in read:
            lists.append((model, lookup))
        else:
            skip.add(name)
    return AttributePlan(kind, frozenset(skip), tuple(lists))


def _read_by(policy: Policy, kind: str, action: str) -> frozenset[str]:
    """The resource attributes the conditions of the rules on (kind, action) read."""
    return frozenset(
        ref.name
        for rule in policy.rules
        if rule.resource == kind and action in rule.actions and rule.when is not None
        for ref in conditions.refs(rule.when.tree)
        if ref.scope == "resource"
    )
