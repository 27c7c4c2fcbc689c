"""The target lookup, compiled once per database connection and run as a plain statement.

Looking a target up through the ORM builds a queryset, resolves the lookup and compiles
SQL on every request: on a small page that is about a fifth of the request. For the
common case, a model behind its stock manager looked up by one field, the statement the
ORM compiles is the same for every value but the parameter. This module asks the ORM
for that statement once per (model, field) and connection, checks that it is exactly
one stock ``exact`` comparison of the field's column with one parameter, and then runs
it directly: the same SQL, the field's own conversion of the value to its database form
(what that lookup does), the ORM's row converters and the ``Model.from_db`` its
iterator uses, so the instance is the one the ORM would build.

Anything unusual keeps the ORM path: a manager that overrides ``get_queryset`` or
``filter`` or uses another queryset class (either could filter by request state), a
custom ``exact`` lookup, related objects to select, an extra or annotated column, and a
value the field prepares as ``None`` (or ``""`` where the database stores it as NULL),
which the ORM compares with ``IS NULL``. A lookup through a relation
(``owner__email``) compiles too: its joins are the same for every value. Hooks that
work below the cursor (``connection.execute_wrapper``) see every statement; hooks that
patch the SQL compiler see it once per connection, when it is compiled. Statements
live on the connection object they were compiled for, so they follow its lifetime, never
cross threads and hold no reference back to it; a change of the settings that shape
converted values (``USE_TZ``, ``TIME_ZONE``, ``DATABASES``) drops them all.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, Error, connections, models
from django.db.models import Manager, QuerySet
from django.db.models import lookups as stock_lookups
from django.db.models.expressions import Col
from django.db.models.fields.related_lookups import RelatedExact
from django.dispatch import receiver

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger("authzguard")

#: Attribute of a ``DatabaseWrapper`` holding ``(generation, {(model, field): lookup})``.
_CACHE_ATTR = "_authzguard_lookups"
_CACHE_LIMIT = 1024
#: Two rows tell "exactly one" from "several".
LIMIT = 2
#: Bumped when a setting that changes compiled statements or converters changes.
_generation = itertools.count()
_current = next(_generation)
_SETTINGS = frozenset({"DATABASES", "USE_TZ", "TIME_ZONE"})
#: Django's own ``exact`` lookups (integer fields have one that refuses out-of-range
#: values; ``resolvers.clean_value`` refuses those before any query).
_STOCK_EXACT = frozenset(
    {stock_lookups.Exact, RelatedExact}
    | ({stock_lookups.IntegerFieldExact} if hasattr(stock_lookups, "IntegerFieldExact") else set())
)


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    global _current
    if setting in _SETTINGS:
        _current = next(_generation)


#: One column converter: the function, whether it is a method of ``connection.ops``
#: (then bound to the connection in use, not stored bound), and its expression.
Converter = tuple[Callable[..., Any], bool, Any]


@dataclass(frozen=True, slots=True)
class CompiledLookup:
    """One target lookup's statement and how to turn its rows into instances."""

    sql: str
    model: type[models.Model]
    #: The field whose database value is the statement's one parameter.
    field: models.Field[Any, Any]
    init_list: tuple[str, ...]
    start: int
    end: int
    #: Per converted column: its position and its converters, in the ORM's order.
    converters: tuple[tuple[int, tuple[Converter, ...]], ...]

    def fetch(self, connection: BaseDatabaseWrapper, value: object) -> list[models.Model] | None:
        """The rows for ``value``, or ``None`` when the ORM would not compare it with ``=``."""
        prepared = self.field.get_prep_value(value)
        if _is_null(prepared, connection):
            return None
        param = self.field.get_db_prep_value(prepared, connection, prepared=True)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, (param,))
            rows = cursor.fetchall()
        alias, ops = connection.alias, connection.ops
        start, end, init_list, model = self.start, self.end, self.init_list, self.model
        found = []
        for fetched in rows:
            row = list(fetched)
            # What SQLCompiler.apply_converters does, converter by converter.
            for position, converters in self.converters:
                item = row[position]
                for function, of_ops, expression in converters:
                    if of_ops:
                        item = function(ops, item, expression, connection)
                    else:
                        item = function(item, expression, connection)
                row[position] = item
            found.append(model.from_db(alias, init_list, row[start:end]))
        return found


def _is_null(prepared: object, connection: BaseDatabaseWrapper) -> bool:
    """Whether the ORM compares this prepared value with ``IS NULL`` rather than ``=``."""
    if prepared is None:
        return True
    if prepared != "":
        return False
    # Query.build_lookup asks the default database (Oracle stores "" as NULL).
    default = connections[DEFAULT_DB_ALIAS].features.interprets_empty_strings_as_nulls
    return bool(default or connection.features.interprets_empty_strings_as_nulls)


def _stock_manager(model: type[models.Model]) -> Manager[Any] | None:
    """The default manager, if ``filter()`` on it is exactly the stock one."""
    manager = model._default_manager
    manager_class = type(manager)
    if (
        not isinstance(manager, Manager)
        or manager_class.get_queryset is not Manager.get_queryset
        or manager_class.filter is not Manager.filter
        or getattr(manager, "_queryset_class", None) is not QuerySet
        or getattr(manager, "_db", None) is not None
        or getattr(manager, "_hints", None)
    ):
        return None
    return manager


def _converters(
    expressions: list[Any], connection: BaseDatabaseWrapper
) -> tuple[tuple[int, tuple[Converter, ...]], ...] | None:
    """The ORM's converters for these columns, with the backend's left unbound."""
    out = []
    for position, expression in enumerate(expressions):
        functions = connection.ops.get_db_converters(expression)
        functions += expression.get_db_converters(connection)
        converters: list[Converter] = []
        for function in functions:
            owner = getattr(function, "__self__", None)
            if owner is connection.ops:
                converters.append((function.__func__, True, expression))
            elif owner is connection:
                return None  # bound to this very connection: not kept
            else:
                converters.append((function, False, expression))
        if converters:
            out.append((position, tuple(converters)))
    return tuple(out)


def compile_lookup(
    model: type[models.Model],
    field_path: str,
    field: models.Field[Any, Any],
    value: object,
    connection: BaseDatabaseWrapper,
) -> CompiledLookup | None:
    """The statement the ORM runs for ``model.objects.filter(field_path=value)[:2]`` on
    ``connection``, or ``None`` when it cannot be reused for other values as is."""
    manager = _stock_manager(model)
    if manager is None or value is None:
        return None
    queryset = manager.filter(**{field_path: value})
    queryset._db = connection.alias  # type: ignore[attr-defined]
    query = queryset.query
    query.set_limits(high=LIMIT)
    # Exactly one stock equality of a plain column with the value: nothing a custom
    # lookup, a transform, an extra() clause or a second condition could change per value.
    conditions = query.where.children
    condition: Any = conditions[0] if len(conditions) == 1 else None
    if (
        type(condition) not in _STOCK_EXACT
        or type(getattr(condition, "lhs", None)) is not Col
        or query.extra
        or query.annotations
    ):
        return None
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    expected = field.get_db_prep_value(value, connection, prepared=False)
    if len(params) != 1 or params[0] != expected or type(params[0]) is not type(expected):
        return None
    klass_info = compiler.klass_info
    if (
        klass_info is None
        or klass_info["model"] is not model
        or klass_info.get("related_klass_infos")
        or compiler.annotation_col_map
        or len(compiler.select) != compiler.col_count
    ):
        return None
    converters = _converters([column[0] for column in compiler.select], connection)
    if converters is None:
        return None
    select_fields = klass_info["select_fields"]
    start, end = select_fields[0], select_fields[-1] + 1
    init_list = tuple(column[0].target.attname for column in compiler.select[start:end])
    return CompiledLookup(str(sql), model, field, init_list, start, end, converters)


def lookup(
    model: type[models.Model],
    field_path: str,
    field: models.Field[Any, Any] | None,
    value: object,
    using: str,
) -> list[models.Model] | None:
    """Up to two instances of ``model`` whose ``field_path`` equals ``value`` on ``using``,
    through the compiled statement; ``None`` when the ORM must run the lookup instead."""
    if field is None:
        return None
    connection = connections[using]
    held = connection.__dict__.get(_CACHE_ATTR)
    if held is None or held[0] != _current:
        held = connection.__dict__[_CACHE_ATTR] = (_current, {})
    cache: dict[tuple[type[models.Model], str], CompiledLookup | None] = held[1]
    key = (model, field_path)
    try:
        compiled = cache[key]
    except KeyError:
        try:
            if _is_null(field.get_prep_value(value), connection):
                return None  # IS NULL: nothing to learn about other values, nothing kept
            compiled = compile_lookup(model, field_path, field, value, connection)
        except Error:
            # The database's (a closed connection, a probe that failed): possibly passing,
            # so the ORM runs this lookup and the next request tries again.
            logger.debug("compiling the %s lookup failed; the ORM runs it", key, exc_info=True)
            return None
        except Exception:
            # Not the database: most likely the same every time, so this connection
            # keeps the ORM path for the lookup (always right, only slower).
            logger.debug("cannot compile the %s lookup; the ORM runs it", key, exc_info=True)
            compiled = None
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = compiled
    if compiled is None:
        return None
    return compiled.fetch(connection, value)
