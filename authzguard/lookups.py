"""The target lookup, compiled once per database connection and run as a plain statement.

Looking a target up through the ORM builds a queryset, resolves the lookup and compiles
SQL on every request: on a small page that is about a fifth of the request. For the
common case, a model behind its stock manager looked up by one field with nothing
joined, the statement the ORM compiles is the same for every value but the parameter.
This module asks the ORM for that statement once per (model, field) and connection,
checks that the ORM would send exactly it with the new value's parameter, and then
runs it directly: the same SQL, the same parameter conversion, the same row converters
and the same ``Model.from_db`` the ORM's iterator uses, so the instance is the one the
ORM would build.

Anything unusual (a custom manager or queryset, which could filter differently from one
request to the next; relations to join; a lookup whose parameter is not the field's
database value) keeps the ORM path. Statements live on the connection object they were
compiled for, so they follow its lifetime and never cross threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connections, models
from django.db.models import Manager, QuerySet

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

#: Attribute of a ``DatabaseWrapper`` holding its compiled lookups.
_CACHE_ATTR = "_authzguard_lookups"
_CACHE_LIMIT = 1024
#: Two rows tell "exactly one" from "several".
LIMIT = 2


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
    #: Column converters as the ORM's compiler found them (position to converters).
    converters: dict[int, Any]
    #: The compiler that found them; applies them as the ORM's iterator does.
    compiler: SQLCompiler

    def fetch(self, connection: BaseDatabaseWrapper, value: object) -> list[models.Model]:
        param = self.field.get_db_prep_value(value, connection, prepared=False)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, (param,))
            rows: Any = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        alias = connection.alias
        start, end, init_list, model = self.start, self.end, self.init_list, self.model
        return [model.from_db(alias, init_list, row[start:end]) for row in rows]


def _stock_manager(model: type[models.Model]) -> Manager[Any] | None:
    manager = model._default_manager
    if (
        type(manager).get_queryset is not Manager.get_queryset
        or getattr(manager, "_queryset_class", None) is not QuerySet
        or getattr(manager, "_db", None) is not None
        or getattr(manager, "_hints", None)
    ):
        return None
    return manager


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
    queryset.query.set_limits(high=LIMIT)
    compiler = queryset.query.get_compiler(connection=connection)
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
    select_fields = klass_info["select_fields"]
    start, end = select_fields[0], select_fields[-1] + 1
    init_list = tuple(column[0].target.attname for column in compiler.select[start:end])
    converters = compiler.get_converters([column[0] for column in compiler.select])
    return CompiledLookup(str(sql), model, field, init_list, start, end, converters, compiler)


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
    cache: dict[tuple[type[models.Model], str], CompiledLookup | None] | None
    cache = connection.__dict__.get(_CACHE_ATTR)
    if cache is None:
        cache = connection.__dict__[_CACHE_ATTR] = {}
    key = (model, field_path)
    try:
        compiled = cache[key]
    except KeyError:
        try:
            compiled = compile_lookup(model, field_path, field, value, connection)
        except Exception:  # an unusual model or field: the ORM path decides
            compiled = None
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = compiled
    if compiled is None:
        return None
    return compiled.fetch(connection, value)
