"""Finding the target object of a request: parameter extraction, strict validation, lookup.

Every resolver obeys the same rules, so the middleware and the view can never see
different values:

- the target parameter must appear exactly once, in exactly one place (path kwargs,
  query string, form body or JSON body); anything else is a :class:`ParameterError`;
- values are validated against the model field *before* any query (ASCII digits only
  for integer keys, canonical UUIDs, printable bounded strings); a bad value is a
  :class:`ParameterError`, never a database error;
- the lookup must match exactly one object (:class:`TargetNotFound`, :class:`AmbiguousTarget`).

A request body is read as a form or as JSON according to its ``Content-Type``, never
both, and is parsed at most once per request.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from django.apps import apps
from django.core.exceptions import (
    FieldDoesNotExist,
    ObjectDoesNotExist,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.core.signals import setting_changed
from django.db import connections, models, router
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.db.models.query_utils import DeferredAttribute
from django.dispatch import receiver
from django.http import HttpRequest, UnreadablePostError
from django.utils.module_loading import import_string

from authzguard.conf import settings
from authzguard.exceptions import AmbiguousTarget, ParameterError, TargetNotFound
from authzguard.policy.model import ResourceKind, TargetSpec

SOURCES: frozenset[str] = frozenset({"path", "query", "form", "json", "body"})

_INTEGER_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
_STRING_TYPES = frozenset(
    {"CharField", "EmailField", "SlugField", "TextField", "URLField", "GenericIPAddressField"}
)
# Canonical decimal only: no sign, no leading zeros, no whitespace, no other scripts' digits.
_DIGITS = re.compile(r"(?:0|[1-9][0-9]*)", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INT64 = (-(2**63), 2**63 - 1)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

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


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON constant {name} is not allowed")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ParameterError(f"JSON body repeats the key {key!r}", parameter=key)
        result[key] = value
    return result


def json_body(request: HttpRequest) -> Mapping[str, Any]:
    """The JSON object in the request body ({} if the body is not JSON), parsed once."""
    cached: Mapping[str, Any] | None = getattr(request, "_authzguard_json", None)
    if cached is not None:
        return cached
    parsed: Mapping[str, Any] = {}
    if _is_json(request.content_type or "") and request.body:
        try:
            value = json.loads(
                request.body,
                object_pairs_hook=_no_duplicate_keys,
                parse_constant=_reject_constant,
            )
        except ParameterError:
            raise
        except (ValueError, RecursionError) as exc:
            raise ParameterError(f"the JSON body does not parse: {exc}") from None
        if isinstance(value, dict):
            parsed = value
    request._authzguard_json = parsed  # type: ignore[attr-defined]
    return parsed


def _occurrences(
    request: HttpRequest, name: str, view_kwargs: Mapping[str, Any]
) -> list[tuple[str, object]]:
    """Every (source, value) pair carrying ``name`` anywhere in the request."""
    found: list[tuple[str, object]] = []
    if name in view_kwargs:
        found.append(("path", view_kwargs[name]))
    # Skip building an empty QueryDict on the hot path, but always read a GET that
    # something already built or replaced: that is what the view will read.
    if request.META.get("QUERY_STRING") or "GET" in request.__dict__:
        found.extend(("query", v) for v in request.GET.getlist(name))
    content_type = request.content_type or ""
    if content_type in _FORM_TYPES:
        found.extend(("form", v) for v in request.POST.getlist(name))
        if name in request.FILES:
            found.append(("form", request.FILES.getlist(name)))
    elif _is_json(content_type):
        body = json_body(request)
        if name in body:
            found.append(("json", body[name]))
    return found


def extract_parameter(
    request: HttpRequest, name: str, source: str | None, view_kwargs: Mapping[str, Any]
) -> tuple[object, str]:
    """Return ``(raw value, source)`` for the single occurrence of ``name``.

    ``source`` restricts where the value may come from (``body`` is form or JSON);
    ``None`` accepts any one place. Repeats anywhere, even outside ``source``, are refused.
    """
    try:
        found = _occurrences(request, name, view_kwargs)
    except (RequestDataTooBig, SuspiciousOperation, UnreadablePostError) as exc:
        raise ParameterError(f"the request body cannot be read: {exc}", parameter=name) from None
    if not found:
        raise ParameterError(f"missing parameter {name!r}", parameter=name)
    if len(found) > 1:
        places = ", ".join(sorted({where for where, _ in found}))
        raise ParameterError(
            f"parameter {name!r} is given {len(found)} times ({places})", parameter=name
        )
    where, value = found[0]
    allowed = {"form", "json"} if source == "body" else {source} if source else SOURCES
    if where not in allowed:
        raise ParameterError(f"parameter {name!r} must come from {source}", parameter=name)
    return value, where


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


#: The accepted range of each integer field type per database alias: the backend's own
#: range, clipped to 64 bits. Looking the connection up costs more than the check.
_bounds: dict[tuple[str, str], tuple[int, int]] = {}


def _integer_bounds(using: str, internal: str) -> tuple[int, int]:
    bounds = _bounds.get((using, internal))
    if bounds is None:
        low, high = connections[using].ops.integer_field_range(internal)
        bounds = (
            _INT64[0] if low is None else max(low, _INT64[0]),
            _INT64[1] if high is None else min(high, _INT64[1]),
        )
        _bounds[(using, internal)] = bounds
    return bounds


@receiver(setting_changed)
def _on_databases_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "DATABASES":
        _bounds.clear()


def clean_value(
    raw: object,
    field: models.Field[Any, Any],
    *,
    max_length: int | None,
    parameter: str,
    using: str,
) -> object:
    """Validate ``raw`` for ``field`` before it reaches a query; ``ParameterError`` if bad.

    ``max_length`` bounds string values (``None``: ``AUTHZGUARD_MAX_PARAMETER_LENGTH``);
    integer keys and UUIDs have their own, tighter bounds.
    """
    bad = f"malformed value for parameter {parameter!r}"
    if raw is None or isinstance(raw, (bool, float, list, dict, tuple)):
        raise ParameterError(f"{bad}: a {type(raw).__name__} is not an identifier", parameter)
    internal = field.get_internal_type()
    if internal in _INTEGER_TYPES:
        if isinstance(raw, int) and raw >= 0:
            value = raw
        elif isinstance(raw, str) and len(raw) <= 20 and _DIGITS.fullmatch(raw):
            value = int(raw)
        else:
            raise ParameterError(f"{bad}: expected ASCII digits", parameter)
        low, high = _integer_bounds(using, internal)
        if not low <= value <= high:
            raise ParameterError(f"{bad}: out of range", parameter)
        return value
    if internal == "UUIDField":
        if isinstance(raw, uuid.UUID):
            return raw
        if isinstance(raw, str) and _UUID.fullmatch(raw):
            return uuid.UUID(raw)
        raise ParameterError(f"{bad}: expected a UUID", parameter)
    if not isinstance(raw, str):
        raise ParameterError(f"{bad}: expected a string", parameter)
    # Read here, not by the caller: only string values need it (a settings read is a
    # few microseconds, a tenth of the whole check).
    max_length = max_length or settings.MAX_PARAMETER_LENGTH
    limit = min(max_length, getattr(field, "max_length", None) or max_length)
    if not raw or len(raw) > limit:
        raise ParameterError(f"{bad}: empty or longer than {limit} characters", parameter)
    # Control characters, lone surrogates and NUL reach some databases as errors (500s).
    if not raw.isprintable() or raw != raw.strip():
        raise ParameterError(f"{bad}: unprintable characters or surrounding spaces", parameter)
    if internal in _STRING_TYPES:
        return raw
    try:
        return field.to_python(raw)
    except (ValidationError, ValueError, TypeError, ArithmeticError):
        raise ParameterError(bad, parameter) from None


@lru_cache(maxsize=1024)
def _path_parts(path: str) -> tuple[str, ...]:
    """``owner.pk`` and ``owner__pk`` as ``("owner", "pk")``, split once per path."""
    return tuple(re.split(r"\.|__", path))


def _select_related(model: type[models.Model], kind: ResourceKind | None) -> list[str]:
    """Forward relations that the kind's attribute paths cross: joined, not queried later."""
    if kind is None:
        return []
    related: list[str] = []
    for attribute in kind.attributes.values():
        parts = _path_parts(attribute.field or attribute.name)
        current, chain = model, []
        for part in parts[:-1]:
            try:
                field = current._meta.get_field(part)
            except FieldDoesNotExist:
                break
            if not (field.many_to_one or field.one_to_one) or field.related_model is None:
                break
            chain.append(part)
            current = field.related_model
        if chain:
            related.append("__".join(chain))
    return related


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
    #: The model field ``field`` names (the one ``value`` was validated for).
    lookup_field: models.Field[Any, Any] | None = None
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
    return TargetQuery(model, spec.field, value, spec.param, source, using, related, field)


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


def read_attribute(obj: object, path: str) -> object:
    """Read an attribute path (``pk``, ``owner_id``, ``owner.pk``, ``owner__pk``) from ``obj``.

    A missing link gives ``None`` (absent), which any condition reading it denies; a
    model instance stands for its primary key, so ``owner`` compares like ``owner.pk``.
    """
    value: object = obj
    for part in _path_parts(path):
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

#: How to read an attribute path from instances of a class, worked out once per pair.
_readers: dict[tuple[type, str], AttributeReader] = {}
_READERS_LIMIT = 4096


def attribute_reader(cls: type, path: str) -> AttributeReader:
    """A function reading ``path`` from instances of ``cls`` as :func:`read_attribute` does.

    A model's primary key or one of its plain (non-relation) concrete fields is read as
    the instance attribute itself, in C, and so is a foreign key's primary key (``owner``,
    ``owner.pk``, ``owner.id``: the ``owner_id`` column, see :func:`_foreign_key_reader`);
    any other path goes through ``read_attribute``.
    """
    key = (cls, path)
    reader = _readers.get(key)
    if reader is not None:
        return reader
    reader = (
        _plain_field_reader(cls, path)
        or _foreign_key_reader(cls, path)
        or (lambda obj: read_attribute(obj, path))
    )
    if len(_readers) >= _READERS_LIMIT:
        _readers.clear()
    _readers[key] = reader
    return reader


def _plain_field_reader(cls: type, path: str) -> AttributeReader | None:
    parts = _path_parts(path)
    if len(parts) != 1 or not (isinstance(cls, type) and issubclass(cls, models.Model)):
        return None
    opts = cls._meta
    if parts[0] == "pk":
        # Model.pk is Django's property over the primary key's attname.
        if opts.pk is None or not isinstance(getattr(cls, "pk", None), property):
            return None
        if cls.pk is not models.Model.pk or not isinstance(
            getattr(cls, opts.pk.attname, None), DeferredAttribute
        ):
            return None
        return attrgetter(opts.pk.attname)
    try:
        field = opts.get_field(parts[0])
    except FieldDoesNotExist:
        return None
    concrete = getattr(field, "concrete", False) and not field.is_relation
    # Only where Django's own descriptor serves the field: a property of the same name
    # (on a subclass or proxy) goes through read_attribute, as before.
    if (
        concrete
        and getattr(field, "attname", None) == path
        and isinstance(getattr(cls, path, None), DeferredAttribute)
    ):
        return attrgetter(path)
    return None


def _foreign_key_reader(cls: type, path: str) -> AttributeReader | None:
    """``owner_id``, and ``owner``, ``owner.pk`` or ``owner.id`` of a foreign key to the
    related model's primary key: read from the ``owner_id`` column the instance holds.

    An object from a custom resolver has not had its relations joined: loading the owner
    to read its key would cost a query only when the object exists, so a caller counting
    queries could tell "forbidden" from "no such object". Deeper paths load as before.
    """
    parts = _path_parts(path)
    if len(parts) > 2 or not (isinstance(cls, type) and issubclass(cls, models.Model)):
        return None
    try:
        field = cls._meta.get_field(parts[0])
    except FieldDoesNotExist:
        return None
    if not isinstance(field, models.ForeignKey):  # a OneToOneField is one too
        return None
    # Only where Django's own descriptors serve the relation and its column: a property
    # of the same name is what code reads, so read_attribute reads it too.
    if not isinstance(getattr(cls, field.attname, None), DeferredAttribute):
        return None
    column = attrgetter(field.attname)
    if path == field.attname:
        return column
    related = field.related_model
    if not isinstance(getattr(cls, field.name, None), ForwardManyToOneDescriptor) or not (
        isinstance(related, type) and issubclass(related, models.Model)
    ):
        return None
    related_pk = related._meta.pk
    # With to_field the column holds another field's value, not the related key.
    if related_pk is None or field.target_field is not related_pk or parts[0] != field.name:
        return None
    if len(parts) == 1:
        return column  # a model instance stands for its primary key
    if parts[1] not in ("pk", related_pk.name) or _plain_field_reader(related, parts[1]) is None:
        return None
    return column


def resource_attributes(obj: object, kind: ResourceKind) -> Mapping[str, object]:
    """The declared attributes of ``kind`` read from the target object (read-only)."""
    if obj is None:
        return MappingProxyType({})
    cls = type(obj)
    return MappingProxyType(
        {
            name: attribute_reader(cls, attribute.field or attribute.name)(obj)
            for name, attribute in kind.attributes.items()
        }
    )


def attribute_path_exists(model: type[models.Model], path: str) -> bool:
    """Whether an attribute path can be read from instances of ``model`` (for checks)."""
    current: Any = model
    parts = re.split(r"\.|__", path)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "pk":
            return last
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            # A property or plain attribute: readable, but nothing can be checked past it.
            return hasattr(current, part)
        if last:
            return True
        if not (field.many_to_one or field.one_to_one) or field.related_model is None:
            return False
        current = field.related_model
    return True
