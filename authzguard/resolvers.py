"""Finding the target object of a request, and reading its attributes.

A declarative target is planned once per binding and policy (its model, the field its
values are validated for, the relations to join), parsed from the request by
:mod:`authzguard.parameters` before any query, then looked up in one query that must
match exactly one object (:class:`TargetNotFound`, :class:`AmbiguousTarget`). A custom
resolver finds the object itself. The kind's attributes are then read from the object
along their attribute paths (``owner.pk``, ``owner__email``), walked by :func:`path_steps`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models, router
from django.db.models import F, QuerySet
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.db.models.query_utils import DeferredAttribute
from django.http import HttpRequest
from django.utils.module_loading import import_string

from authzguard.exceptions import AmbiguousTarget, TargetNotFound
from authzguard.parameters import clean_value, extract_parameter
from authzguard.policy.model import ResourceKind, TargetSpec

#: The signature of a custom resolver: ``resolver(request, **view_kwargs) -> object``.
#: It returns the target (``None`` means "no such object") or raises ``ParameterError``,
#: ``TargetNotFound`` or ``Http404``.
Resolver = Callable[..., object]


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """The object a request acts on, and where its identifying value came from."""

    obj: object
    target_id: object
    parameter: str | None
    source: str | None


@lru_cache(maxsize=256)
def get_model(label: str) -> type[models.Model]:
    """The model named ``app_label.ModelName`` (``LookupError`` if there is none)."""
    return apps.get_model(label)


def lookup_field(model: type[models.Model], path: str) -> models.Field[Any, Any]:
    """The concrete field a lookup path ends on (``pk``, ``email``, ``owner__email``).

    Raises ``FieldDoesNotExist`` for an unknown or non-concrete path.
    """
    field: Any = None
    current = model
    parts = path.split("__")
    for index, part in enumerate(parts):
        field = current._meta.pk if part == "pk" else current._meta.get_field(part)
        if field.is_relation:
            if index == len(parts) - 1:
                # A lookup on a foreign key compares its target field.
                field = field.target_field
                break
            current = field.related_model
        elif index != len(parts) - 1:
            raise FieldDoesNotExist(f"{path!r}: {part!r} is not a relation")
    if field is None or not getattr(field, "concrete", False) or field.many_to_many:
        raise FieldDoesNotExist(f"{path!r} is not a concrete field")
    return field  # type: ignore[no-any-return]


@lru_cache(maxsize=1024)
def path_parts(path: str) -> tuple[str, ...]:
    """``owner.pk`` and ``owner__pk`` as ``("owner", "pk")``."""
    return tuple(re.split(r"\.|__", path))


class PathStep(NamedTuple):
    """One part of an attribute path: the model it is read on and the field it names
    there (``None`` for anything else: a property, a plain attribute)."""

    part: str
    model: type[models.Model]
    field: Any


@lru_cache(maxsize=1024)
def path_steps(model: type[models.Model], path: str) -> tuple[PathStep, ...]:
    """The steps of an attribute path through ``model``'s fields, part by part.

    The walk follows forward single-valued relations; it ends at the last part, or early
    after a part that names no field or a field that leads to no single related model
    (a to-many relation: many-to-many, or a reverse foreign key or many-to-many, named by
    its query name ``invoice`` or its accessor ``invoice_set``).
    """
    steps = []
    current = model
    for part in path_parts(path):
        try:
            field: Any = current._meta.pk if part == "pk" else current._meta.get_field(part)
        except FieldDoesNotExist:
            field = _reverse_accessor(current, part)
        steps.append(PathStep(part, current, field))
        related = getattr(field, "related_model", None)
        single = field is not None and (field.many_to_one or field.one_to_one)
        if not single or not isinstance(related, type):
            break
        current = related
    return tuple(steps)


def _reverse_accessor(model: type[models.Model], part: str) -> Any:
    """The reverse relation whose accessor is ``part`` (``invoice_set``), if any."""
    for relation in model._meta.related_objects:
        if relation.get_accessor_name() == part:
            return relation
    return None


def to_many_lookup(model: type[models.Model], path: str) -> str | None:
    """The ORM lookup (``team``, ``project__team``) of a path that ends on a to-many
    relation after forward single-valued ones only; ``None`` for any other path."""
    steps = path_steps(model, path)
    if len(steps) != len(path_parts(path)) or not is_to_many(steps[-1].field):
        return None
    return "__".join(step.part if step.part == "pk" else step.field.name for step in steps)


def is_to_many(field: Any) -> bool:
    """Whether ``field`` is a to-many relation (forward or reverse)."""
    return bool(field is not None and (field.many_to_many or field.one_to_many))


def read_to_many(
    model: type[models.Model], lookup: str, pk: object, using: str | None = None
) -> list[object]:
    """The keys a to-many ``lookup`` holds for the object ``pk`` of ``model``, in one query.

    ``pk=None`` matches nothing, in a query of the same shape: what a missing object costs.
    """
    manager = model._base_manager.db_manager(using or router.db_for_read(model))
    # F() orders by the key itself, never by the related model's Meta.ordering.
    rows = manager.filter(pk=pk).order_by(F(lookup)).values_list(lookup, flat=True)
    return [key for key in rows if key is not None]  # None: the outer join found no row


def _joins(model: type[models.Model], path: str) -> str:
    """The relations ``path`` crosses before its last part, as a ``select_related`` path."""
    chain = []
    for step in path_steps(model, path)[: len(path_parts(path)) - 1]:
        if step.field is None or not (step.field.many_to_one or step.field.one_to_one):
            break
        chain.append(step.field.name)
    return "__".join(chain)


def _select_related(model: type[models.Model], kind: ResourceKind | None) -> list[str]:
    """Forward relations that the kind's attribute paths cross: joined, not queried later."""
    if kind is None:
        return []
    paths = (a.field or a.name for a in kind.attributes.values())
    # A to-many attribute has a query of its own (read_to_many): nothing to join for it.
    joins = (_joins(model, path) for path in paths if to_many_lookup(model, path) is None)
    return [join for join in joins if join]


def target_model(spec: TargetSpec, kind: ResourceKind | None) -> type[models.Model]:
    """The model a declarative target is looked up in (``LookupError`` if unknown)."""
    label = spec.model or (kind.model if kind is not None else None)
    if not label:
        raise LookupError("the target names no model and its resource kind declares none")
    return get_model(label)


@dataclass(frozen=True, slots=True)
class TargetQuery:
    """A validated target parameter, ready for its single lookup."""

    model: type[models.Model]
    field: str
    value: object
    parameter: str
    source: str
    using: str
    #: Relations to join (``None``: work them out from the kind when fetching).
    related: tuple[str, ...] | None = None
    #: Where to look (a DRF view's ``get_queryset()``); ``None``: the default manager.
    queryset: QuerySet[Any] | None = None


@dataclass(frozen=True, slots=True)
class TargetPlan:
    """What a declarative target needs besides the request, worked out once per binding
    and policy: the model, the field values are validated for, the relations to join."""

    spec: TargetSpec
    model: type[models.Model]
    field: models.Field[Any, Any]
    related: tuple[str, ...]


#: The signature of :func:`parse_target`: how a target parameter is read and validated.
TargetParser = Callable[
    [HttpRequest, TargetSpec, ResourceKind | None, Mapping[str, Any], TargetPlan | None],
    TargetQuery,
]


def plan_target(spec: TargetSpec, kind: ResourceKind | None) -> TargetPlan:
    """The :class:`TargetPlan` of ``spec``; ``LookupError`` or ``FieldDoesNotExist`` if the
    target is misdeclared (:func:`parse_target` raises the same, after its 400s)."""
    if not spec.param:
        raise LookupError("the target names neither a parameter nor a resolver")
    model = target_model(spec, kind)
    return TargetPlan(
        spec, model, lookup_field(model, spec.field), tuple(_select_related(model, kind))
    )


def parse_target(
    request: HttpRequest,
    spec: TargetSpec,
    kind: ResourceKind | None,
    view_kwargs: Mapping[str, Any],
    plan: TargetPlan | None = None,
) -> TargetQuery:
    """Extract and validate the target parameter, without touching the database.

    ``plan`` (from :func:`plan_target` for this ``spec`` and ``kind``) saves working out
    the model and field again. Raises :class:`ParameterError` (400); ``LookupError`` for
    a misdeclared target.
    """
    if not spec.param:
        raise LookupError("the target names neither a parameter nor a resolver")
    model = plan.model if plan is not None else target_model(spec, kind)
    raw, source = extract_parameter(request, spec.param, spec.source, view_kwargs)
    # Per request: a router may choose the database from request-local state.
    using = router.db_for_read(model)
    field = plan.field if plan is not None else lookup_field(model, spec.field)
    value = clean_value(raw, field, max_length=spec.max_length, parameter=spec.param, using=using)
    related = plan.related if plan is not None else None
    return TargetQuery(model, spec.field, value, spec.param, source, using, related)


def fetch_target(query: TargetQuery, kind: ResourceKind | None) -> ResolvedTarget:
    """The one object ``query`` designates: one query, joined with the relations that
    the kind's attributes read. Raises :class:`TargetNotFound` or :class:`AmbiguousTarget`.
    """
    model = query.model
    related = query.related if query.related is not None else _select_related(model, kind)
    if query.queryset is not None:
        # The view's own queryset (its database, its filters).
        queryset = query.queryset.filter(**{query.field: query.value})
    else:
        # filter() on the manager first: a manager that overrides it (a tenant filter,
        # say) is honoured; then the database parse_target validated the value for.
        queryset = model._default_manager.filter(**{query.field: query.value})
        queryset = queryset.using(query.using)
    if related:
        queryset = queryset.select_related(*related)
    # Two rows tell "exactly one" from "several".
    found = list(queryset[:2])
    if len(found) == 1:
        return ResolvedTarget(found[0], found[0].pk, query.parameter, query.source)
    label = f"{model._meta.label} with {query.field}={query.value!r}"
    if not found:
        raise TargetNotFound(f"no {label}")
    raise AmbiguousTarget(f"more than one {label}")


def call_resolver(
    request: HttpRequest,
    spec: TargetSpec,
    resolver: Resolver | None,
    view_kwargs: Mapping[str, Any],
) -> ResolvedTarget:
    """Run a custom resolver (given, or ``spec.resolver``'s dotted path)."""
    callable_ = resolver if resolver is not None else import_string(spec.resolver or "")
    obj = callable_(request, **view_kwargs)
    if obj is None:
        raise TargetNotFound("the resolver found no object")
    return ResolvedTarget(obj, getattr(obj, "pk", None), spec.param, "resolver")


def check_kind_model(obj: object, kind: ResourceKind) -> None:
    """Refuse (``TypeError``) an object that is not of the kind's ``model:``.

    The kind's attributes are paths on its model: read off another model (a resolver
    returning the wrong object, ``has_perm`` given one), ``owner`` could be anyone's.
    """
    if not kind.model:
        return
    model = get_model(kind.model)
    if not isinstance(obj, model):
        raise TypeError(f"{type(obj).__qualname__} is not a {kind.model} (kind {kind.name!r})")


def read_attribute(obj: object, path: str) -> object:
    """Read an attribute path (``pk``, ``owner_id``, ``owner.pk``, ``owner__pk``) from ``obj``.

    A missing link gives ``None`` (absent), which any condition reading it denies; a
    model instance stands for its primary key, so ``owner`` compares like ``owner.pk``.
    """
    value: object = obj
    for part in path_parts(path):
        if value is None:
            return None
        try:
            value = getattr(value, part)
        except (AttributeError, ObjectDoesNotExist):
            return None
        if callable(value) and not isinstance(value, models.Model):
            return None
    if isinstance(value, models.Model):
        return value.pk
    return value


AttributeReader = Callable[[object], object]


@lru_cache(maxsize=4096)
def attribute_reader(cls: type, path: str) -> AttributeReader:
    """A function reading ``path`` from instances of ``cls`` as :func:`read_attribute` does.

    A model's primary key or one of its plain concrete fields is read as the instance
    attribute itself, and so is a foreign key's primary key (``owner``, ``owner.pk``:
    the ``owner_id`` column, see :func:`_foreign_key_reader`); any other path goes
    through ``read_attribute``, except a to-many relation (``team``, ``project.team``),
    read as the list of its keys in one query (:func:`read_to_many`), and a path across
    joined relations that ends on a foreign key (``project.owner``), read from its column
    (``project.owner_id``) rather than by loading the related object.
    """
    if isinstance(cls, type) and issubclass(cls, models.Model):
        steps = path_steps(cls, path)
        reader = _plain_field_reader(cls, path, steps) or _foreign_key_reader(cls, path, steps)
        if reader is not None:
            return reader
        lookup = to_many_lookup(cls, path)
        if lookup is not None:
            model: type[models.Model] = cls
            return lambda obj: read_to_many(
                model, lookup, getattr(obj, "pk", None), router.db_for_read(model, instance=obj)
            )
        column = _deep_foreign_key_column(cls, path, steps)
        if column is not None:
            return lambda obj: read_attribute(obj, column)
    return lambda obj: read_attribute(obj, path)


def _deep_foreign_key_column(
    cls: type[models.Model], path: str, steps: tuple[PathStep, ...]
) -> str | None:
    """``project.owner_id`` for ``project.owner``: relations served by Django's own
    descriptors, the last a foreign key to its model's primary key."""
    parts = path_parts(path)
    if len(parts) < 2 or len(steps) != len(parts):
        return None
    for step in steps[:-1]:
        if not isinstance(getattr(step.model, step.part, None), ForwardManyToOneDescriptor):
            return None
    last = steps[-1]
    if not isinstance(last.field, models.ForeignKey) or last.part != last.field.name:
        return None
    related_pk = getattr(last.field.related_model, "_meta", None)
    if related_pk is None or last.field.target_field is not related_pk.pk:
        return None
    if not isinstance(getattr(last.model, last.field.attname, None), DeferredAttribute):
        return None
    return ".".join((*parts[:-1], last.field.attname))


def _plain_field_reader(
    cls: type[models.Model], path: str, steps: tuple[PathStep, ...]
) -> AttributeReader | None:
    if len(path_parts(path)) != 1:
        return None
    pk = cls._meta.pk
    if path == "pk":
        # Model.pk is Django's property over the primary key's attname.
        if pk is None or cls.pk is not models.Model.pk:
            return None
        if not isinstance(getattr(cls, pk.attname, None), DeferredAttribute):
            return None
        return attrgetter(pk.attname)
    field = steps[0].field
    concrete = getattr(field, "concrete", False) and not field.is_relation
    # Only where Django's own descriptor serves the field: a property of the same name
    # (on a subclass or proxy) goes through read_attribute.
    if (
        concrete
        and getattr(field, "attname", None) == path
        and isinstance(getattr(cls, path, None), DeferredAttribute)
    ):
        return attrgetter(path)
    return None


def _foreign_key_reader(
    cls: type[models.Model], path: str, steps: tuple[PathStep, ...]
) -> AttributeReader | None:
    """``owner_id``, and ``owner``, ``owner.pk`` or ``owner.id`` of a foreign key to the
    related model's primary key: read from the ``owner_id`` column the instance holds.

    An object from a custom resolver has not had its relations joined: loading the owner
    to read its key would cost a query only when the object exists, so a caller counting
    queries could tell "forbidden" from "no such object". Deeper paths load the owner.
    """
    parts = path_parts(path)
    field = steps[0].field
    if len(parts) > 2 or not isinstance(field, models.ForeignKey):  # a OneToOneField too
        return None
    # Only where Django's own descriptors serve the relation and its column: a property
    # of the same name is what code reads, so read_attribute reads it too.
    if not isinstance(getattr(cls, field.attname, None), DeferredAttribute):
        return None
    column = attrgetter(field.attname)
    if path == field.attname:
        return column
    related = field.related_model
    if parts[0] != field.name or not isinstance(
        getattr(cls, field.name, None), ForwardManyToOneDescriptor
    ):
        return None
    if not (isinstance(related, type) and issubclass(related, models.Model)):
        return None
    related_pk = related._meta.pk
    # With to_field the column holds another field's value, not the related key.
    if related_pk is None or field.target_field is not related_pk:
        return None
    if len(parts) == 1:
        return column  # a model instance stands for its primary key
    if steps[-1].field is not related_pk or len(steps) != 2:
        return None
    if _plain_field_reader(related, parts[1], path_steps(related, parts[1])) is None:
        return None
    return column


def resource_attributes(
    obj: object, kind: ResourceKind, skip: Collection[str] = ()
) -> Mapping[str, object]:
    """The declared attributes of ``kind`` read from the target object (read-only).

    ``skip`` names attributes left unread (absent): to-many ones no rule asks about.
    """
    if obj is None:
        return MappingProxyType({})
    cls: Any = type(obj)  # a class is hashable; mypy cannot tell from type[object]
    return MappingProxyType(
        {
            name: attribute_reader(cls, attribute.field or attribute.name)(obj)
            for name, attribute in kind.attributes.items()
            if name not in skip
        }
    )
