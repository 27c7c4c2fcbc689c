"""Conditions as SQL: a kind's attributes as columns, and condition trees as ``Q`` objects.

Each node compiles to two predicates over a row: ``fails`` (evaluating it in ``decide``
raises: an absent value read on the path Python's short-circuit takes) and ``value``
(what it evaluates to when it does not fail). Every predicate built here is two-valued
in SQL (a comparison on a nullable column is guarded by ``IS NOT NULL``), so ``NOT``
and ``OR`` mean what they mean in Python, never SQL's "unknown".

Attribute paths follow :func:`authzguard.resolvers.read_attribute`: ``owner`` and
``owner.pk`` compare the related object's primary key (``owner__pk``), ``owner_id`` the
column itself, ``project.owner`` crosses the relation (``project__owner__pk``). A
to-many relation read as a list of keys (``members: {type: list, field: team}``) is
tested by a subquery on the model's primary key (``pk IN (SELECT ... WHERE team = 3)``):
the list stays one query, without duplicate rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import F, Q
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.db.models.query_utils import DeferredAttribute

from authzguard.policy.conditions import BoolOp, Compare, ListLiteral, Literal, Node, Not, Ref
from authzguard.policy.evaluation import truth
from authzguard.policy.model import ResourceKind
from authzguard.resolvers import path_parts, path_steps, to_many_lookup

#: A predicate over a row: a constant, or a ``Q`` that is never unknown in SQL.
Cond = bool | Q

#: Declared attribute types and the column value types that fit them.
FITTING_COLUMNS: Mapping[str, frozenset[str]] = {
    "str": frozenset({"str"}),
    "int": frozenset({"int"}),
    "bool": frozenset({"bool"}),
    "key": frozenset({"str", "int"}),
}
_INT64 = range(-(2**63), 2**63)
#: The most terms one condition may put in SQL. Python's short-circuit reads a part's
#: value twice (to go on, and as the result), so nesting could double the SQL per level.
MAX_SQL_TERMS = 5_000


class Unsupported(Exception):
    """A condition or attribute that has no SQL form (the message says why)."""


@dataclass(frozen=True, slots=True)
class Column:
    """Where an attribute's value is in SQL, and the Python type Django reads it as."""

    lookup: str
    pytype: str  # "str" | "int" | "bool"
    nullable: bool


@dataclass(frozen=True, slots=True)
class ToMany:
    """A to-many relation read as the list of its keys: never absent (an empty list)."""

    model: type[models.Model]
    lookup: str  # from ``model`` to the related keys: ``team``, ``project__team``
    pytype: str  # the related primary key's type

    def rows(self, **lookups: object) -> Q:
        """The rows of ``model`` that have a related key matching ``lookups``."""
        keys = self.model._base_manager.filter(**lookups).values("pk")
        return Q(pk__in=keys)


def find_to_many(model: type[models.Model], path: str) -> ToMany | None:
    """The to-many relation a ``type: list`` attribute reads, as ``decide`` reads it."""
    lookup = to_many_lookup(model, path)
    if lookup is None:
        return None
    related = path_steps(model, path)[-1].field.related_model
    pytype = column_type(related._meta.pk)
    return ToMany(model, lookup, pytype) if pytype is not None else None


def column_type(field: Any) -> str | None:
    """``str``, ``int`` or ``bool``: the type of the values Django reads from ``field``."""
    while field.is_relation:
        field = field.target_field
    if isinstance(field, models.BooleanField):
        return "bool"
    if isinstance(field, models.IntegerField):  # AutoField and BigAutoField too
        return "int"
    if isinstance(field, (models.CharField, models.TextField)):
        return "str"
    return None


def find_column(model: type[models.Model], path: str) -> Column | str:
    """The column an attribute path reads, or why it reads none (a property, a method,
    a to-many relation...). Only where Django's own descriptors serve each part."""
    parts = path_parts(path)
    current, prefix, nullable = model, "", False
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        meta = current._meta
        if part == "pk":
            field: Any = meta.pk
            if current.pk is not models.Model.pk or field is None:
                return f"{path!r}: {current.__name__}.pk is overridden"
        else:
            try:
                field = meta.get_field(part)
            except FieldDoesNotExist:
                return f"{path!r}: {part!r} is not a field of {current.__name__} (a property?)"
        forward = field.is_relation and field.concrete and not field.many_to_many
        if not last and not (forward and part == field.name):
            return f"{path!r}: {part!r} leads to no single related object"
        if field.is_relation and not forward:
            return f"{path!r}: {part!r} is a to-many or reverse relation"
        # Only where Django's own descriptors serve the part: a property of the same name
        # is what read_attribute reads.
        if forward and part == field.name:
            served = isinstance(getattr(current, part, None), ForwardManyToOneDescriptor)
        else:
            served = isinstance(getattr(current, field.attname, None), DeferredAttribute)
            served = served and part in ("pk", field.attname)
        if not served:
            return f"{path!r}: {current.__name__}.{part} is not Django's field descriptor"
        nullable = nullable or bool(field.null)
        if not last:
            current, prefix = field.related_model, f"{prefix}{part}__"
            continue
        if field.is_relation and part == field.name:
            # A related instance stands for its primary key.
            related = field.related_model
            pytype = column_type(related._meta.pk)
            lookup = f"{prefix}{part}__pk"
        else:
            pytype, lookup = column_type(field), f"{prefix}{part}"
        if pytype is None:
            return f"{path!r}: {type(field).__name__} values are not str, int or bool"
        return Column(lookup, pytype, nullable)
    return f"{path!r} is empty"  # pragma: no cover - a path has at least one part


#: Where an attribute is in SQL: a column, a to-many relation, or why it is in none.
Source = Column | ToMany | str


def kind_columns(model: type[models.Model], kind: ResourceKind) -> dict[str, Source]:
    found: dict[str, Source] = {}
    for name, attribute in kind.attributes.items():
        path = attribute.field or attribute.name
        many = find_to_many(model, path) if attribute.type == "list" else None
        found[name] = many if many is not None else find_column(model, path)
    return found


def type_mismatches(kind: ResourceKind, columns: Mapping[str, Source]) -> list[str]:
    """Attributes whose declared type no value of their column has (``decide`` would deny
    every object with a value there)."""
    found = []
    for name, attribute in kind.attributes.items():
        column = columns[name]
        allowed = FITTING_COLUMNS.get(attribute.type)
        if isinstance(column, Column) and allowed is not None and column.pytype not in allowed:
            found.append(
                f"attribute {name!r} is declared {attribute.type} but {column.lookup} holds "
                f"{column.pytype} values"
            )
    return found


# -- predicates -----------------------------------------------------------------------------


def and_(*conds: Cond) -> Cond:
    out: Cond = True
    for cond in conds:
        if cond is False:
            return False
        if cond is not True:
            out = cond if out is True else out & cond  # type: ignore[operator]
    return out


def or_(*conds: Cond) -> Cond:
    out: Cond = False
    for cond in conds:
        if cond is True:
            return True
        if cond is not False:
            out = cond if out is False else out | cond  # type: ignore[operator]
    return out


def not_(cond: Cond) -> Cond:
    return (not cond) if isinstance(cond, bool) else ~cond


def _present(column: Column) -> Cond:
    return Q(**{f"{column.lookup}__isnull": False}) if column.nullable else True


def _absent(column: Column) -> Cond:
    return Q(**{f"{column.lookup}__isnull": True}) if column.nullable else False


@dataclass(frozen=True, slots=True)
class _Sym:
    """A compiled node: when it fails, and its value (a predicate, a column or a constant)."""

    fails: Cond
    pred: Cond | None = None
    column: Column | None = None
    const: object = None
    many: ToMany | None = None


class ConditionCompiler:
    """Compiles the conditions of one kind for one subject into predicates."""

    def __init__(
        self,
        kind: ResourceKind,
        columns: Mapping[str, Source],
        subject: Mapping[str, object],
        coerce_str: Callable[[str], bool],
    ) -> None:
        self.kind = kind
        self.columns = columns
        self.subject = subject
        #: Whether the database can hold a string equal to this one (PostgreSQL: no NUL).
        self.storable = coerce_str

    def decision(self, node: Node) -> tuple[Cond, Cond]:
        """``(fails, holds)``: as ``decide`` reads a condition's value (``truth``)."""
        sym = self.compile(node)
        if sym.pred is not None:
            fails, holds = sym.fails, sym.pred
        elif sym.column is not None or sym.many is not None:
            fails, holds = sym.fails, self._as_pred(sym)
        else:
            try:
                fails, holds = sym.fails, truth(sym.const)
            except Exception:
                fails, holds = True, False
        if sql_terms(fails) + sql_terms(holds) > MAX_SQL_TERMS:
            raise Unsupported(f"it would take more than {MAX_SQL_TERMS} terms of SQL")
        return fails, holds

    def compile(self, node: Node) -> _Sym:
        if isinstance(node, Ref):
            return self._ref(node)
        if isinstance(node, Literal):
            return _Sym(False, const=node.value)
        if isinstance(node, ListLiteral):
            return _Sym(False, const=[item.value for item in node.items])
        if isinstance(node, Compare):
            left, right = self.compile(node.left), self.compile(node.right)
            value = self._compare(node.op, left, right)
            return _Sym(or_(left.fails, right.fails), pred=value)
        if isinstance(node, Not):
            operand = self.compile(node.operand)
            return _Sym(operand.fails, pred=not_(self._as_pred(operand)))
        return self._bool_op(node)

    def _ref(self, node: Ref) -> _Sym:
        if node.scope == "subject":
            if node.name not in self.subject:
                return _Sym(True, const=None)
            return _Sym(False, const=self.subject[node.name])
        attribute = self.kind.attributes.get(node.name)
        if attribute is None:
            raise Unsupported(f"resource.{node.name} is not declared")
        if attribute.type == "any":
            raise Unsupported(f"resource.{node.name} is of type: any (its values are unknown)")
        column = self.columns[node.name]
        if attribute.type == "list":
            if isinstance(column, ToMany):
                return _Sym(False, many=column)
            raise Unsupported(f"resource.{node.name} is a list held in a column")
        if not isinstance(column, Column):
            raise Unsupported(f"resource.{node.name} reads no column: {column}")
        return _Sym(_absent(column), column=column)

    def _bool_op(self, node: BoolOp) -> _Sym:
        parts = [self.compile(op) for op in node.operands]
        preds = [self._as_pred(part) for part in parts]
        stop = node.op == "or"
        # Right to left: a part fails, or it lets evaluation go on and a later one fails.
        fails: Cond = parts[-1].fails
        for part, pred in zip(reversed(parts[:-1]), reversed(preds[:-1]), strict=True):
            goes_on = not_(pred) if stop else pred
            fails = or_(part.fails, and_(not_(part.fails), goes_on, fails))
        value = or_(*preds) if stop else and_(*preds)
        return _Sym(fails, pred=value)

    def _as_pred(self, sym: _Sym) -> Cond:
        """A value read as true/false (``not``, ``and``, ``or``)."""
        if sym.pred is not None:
            return sym.pred
        if sym.many is not None:  # the loader refuses a list as a condition (AZ208)
            raise Unsupported(f"{sym.many.lookup} (a list) is used as true/false")
        column = sym.column
        if column is None:
            return bool(sym.const)
        if column.pytype != "bool":
            raise Unsupported(f"{column.lookup} ({column.pytype}) is used as true/false")
        return and_(_present(column), Q(**{column.lookup: True}))

    def _compare(self, op: str, left: _Sym, right: _Sym) -> Cond:
        if op in ("in", "not in"):
            found = self._contains(left, right)
            return found if op == "in" else not_(found)
        equal = self._equal(left, right)
        return equal if op == "==" else not_(equal)

    def _contains(self, item: _Sym, container: _Sym) -> Cond:
        if item.many is not None:
            raise Unsupported("a to-many relation is never an element of a list")
        if container.many is not None:
            return self._member(item, container.many)
        if container.column is not None or container.pred is not None:
            raise Unsupported("'in' reads a list held in a column")
        values = container.const
        if values is None:
            return False  # an absent subject value: the comparison fails anyway
        if not isinstance(values, list):
            raise Unsupported("'in' needs a list on its right")
        if item.column is not None:
            fitting = self._coerced(item.column, values)
            if not fitting:
                return False
            return and_(_present(item.column), Q(**{f"{item.column.lookup}__in": fitting}))
        if item.pred is not None:
            return self._bool_in(item.pred, values)
        return item.const in values

    def _member(self, item: _Sym, many: ToMany) -> Cond:
        """``value in resource.members``: the value is one of the related keys."""
        if item.column is not None or item.pred is not None:
            raise Unsupported(
                "'in' over a to-many relation needs a value on its left (subject.id, a literal)"
            )
        keys = self._coerced(Column(many.lookup, many.pytype, False), [item.const])
        if not keys:
            return False  # no key equals it (an absent value fails anyway)
        return many.rows(**{many.lookup: keys[0]})

    def _equal(self, left: _Sym, right: _Sym) -> Cond:
        if left.many is not None or right.many is not None:
            raise Unsupported("a to-many relation is compared only with 'in' and 'not in'")
        if left.column is None and right.column is not None:
            left, right = right, left
        if left.pred is None and right.pred is not None:
            left, right = right, left
        if left.pred is not None:
            if right.pred is not None:
                return _same(left.pred, right.pred)
            if right.column is not None:
                if right.column.pytype != "bool":
                    raise Unsupported("a true/false value is compared with a non-bool column")
                return _same(left.pred, self._as_pred(right))
            return self._bool_in(left.pred, [right.const])
        if left.column is not None:
            if right.column is not None:
                return self._columns_equal(left.column, right.column)
            fitting = self._coerced(left.column, [right.const])
            if not fitting:
                return False
            return and_(_present(left.column), Q(**{left.column.lookup: fitting[0]}))
        return left.const == right.const

    def _columns_equal(self, a: Column, b: Column) -> Cond:
        if a.pytype != b.pytype:
            if {a.pytype, b.pytype} == {"int", "bool"}:
                raise Unsupported(f"{a.lookup} and {b.lookup} compare int with bool")
            return False  # a str never equals an int
        return and_(_present(a), _present(b), Q(**{a.lookup: F(b.lookup)}))

    def _bool_in(self, pred: Cond, values: Sequence[object]) -> Cond:
        """``pred in values`` by Python's ``==`` (``True == 1``)."""
        has_true, has_false = True in values, False in values
        return or_(and_(pred, has_true), and_(not_(pred), has_false))

    def _coerced(self, column: Column, values: Sequence[object]) -> list[object]:
        """The values that can equal a value of ``column`` by Python's ``==``, as stored."""
        out: list[object] = []
        for value in values:
            if column.pytype == "str":
                if isinstance(value, str) and self.storable(value):
                    out.append(value)
            elif column.pytype == "int":
                if isinstance(value, int) and int(value) in _INT64:
                    out.append(int(value))
            elif isinstance(value, int) and value in (0, 1):  # bool column: True == 1
                out.append(bool(value))
        return out


def sql_terms(cond: Cond) -> int:
    """How many terms ``cond`` writes in SQL: its tree's size, counted over the shared
    nodes once each (linear in the nodes built, whatever the tree's size)."""
    sizes: dict[int, int] = {}

    def size(node: object) -> int:
        if not isinstance(node, Q):
            return 1
        known = sizes.get(id(node))
        if known is None:
            known = sizes[id(node)] = 1 + sum(size(child) for child in node.children)
        return known

    return size(cond)


def _same(a: Cond, b: Cond) -> Cond:
    return or_(and_(a, b), and_(not_(a), not_(b)))
