"""List filtering: the objects of a queryset that the policy allows, in one SQL query.

``filter_queryset(request, "view", Project.objects.all())`` narrows the queryset by a
``Q`` compiled from the rules that apply to the request's subject, with exactly
``decide()``'s semantics (:mod:`authzguard.sql_conditions`). What cannot become SQL (a
property, an attribute of ``type: any``, a list held in a column) raises
:class:`~authzguard.exceptions.FilterError`: nothing is ever fetched to be filtered in
Python. The (kind, action) pairs that views filter are checked at start-up
(:mod:`authzguard.filter_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connections, models
from django.db.models import QuerySet

from authzguard import runtime
from authzguard.exceptions import FilterError
from authzguard.policy.compiler import subject_env
from authzguard.policy.model import Policy, ResourceKind, Subject
from authzguard.policy.plan import residual
from authzguard.resolvers import get_model
from authzguard.sql_conditions import (
    Column,
    Cond,
    ConditionCompiler,
    Source,
    ToMany,
    Unsupported,
    and_,
    kind_columns,
    not_,
    or_,
    type_mismatches,
)
from authzguard.subjects import subject_for

if TYPE_CHECKING:
    from django.http import HttpRequest

    from authzguard.policy.compiler import CompiledPolicy

M = TypeVar("M", bound=models.Model)

#: Databases whose string equality and NULLs are Python's (see docs/views.md).
SUPPORTED_VENDORS = frozenset({"sqlite", "postgresql"})
#: Subject values for checking that conditions compile: any values of the right types.
_SAMPLE_SUBJECT = {"id": 1, "username": "u", "email": "e"}


def filter_queryset(
    request: HttpRequest | Any, action: str, queryset: QuerySet[M], *, kind: str | None = None
) -> QuerySet[M]:
    """The objects of ``queryset`` that the request's user may ``action``, in one query.

    ``kind`` defaults to the resource kind whose ``model:`` is the queryset's model.
    Raises ``FilterError`` when the policy's conditions cannot become SQL.
    """
    policy = runtime.get_policy()
    name = kind or kind_for_model(policy, queryset.model)
    subject = subject_for(getattr(request, "user", None), policy, kind=name, action=action)
    return filter_for_subject(policy, subject, action, queryset, name)


def filter_for_subject(
    policy: CompiledPolicy, subject: Subject, action: str, queryset: QuerySet[M], kind: str
) -> QuerySet[M]:
    """:func:`filter_queryset` for a :class:`Subject` already known."""
    vendor = connections[queryset.db].vendor
    if vendor not in SUPPORTED_VENDORS:
        raise FilterError(f"list filtering supports SQLite and PostgreSQL, not {vendor}")
    prepared = _prepared(policy, queryset.model, kind, action)
    plan = residual(policy, subject, action, kind)
    if plan.verdict == "NEVER":
        return queryset.none()
    if plan.verdict == "ALWAYS":
        return queryset.all()
    compiler = ConditionCompiler(
        prepared.kind,
        prepared.columns,
        subject_env(subject),
        (lambda text: "\x00" not in text) if vendor == "postgresql" else (lambda text: True),
    )
    try:
        denied: Cond = False
        for _, node in plan.denies:
            fails, holds = compiler.decision(node)
            denied = or_(denied, fails, holds)
        failed: Cond = False
        allowed: Cond = False
        for _, node in plan.allows:
            fails, holds = compiler.decision(node)
            failed, allowed = or_(failed, fails), or_(allowed, holds)
    except Unsupported as exc:  # pragma: no cover - _prepared compiled every rule already
        raise FilterError(f"cannot filter {kind} for {action!r} in SQL: {exc}") from None
    condition = and_(not_(denied), not_(failed), allowed)
    if condition is False:
        return queryset.none()
    return queryset.all() if condition is True else queryset.filter(condition)


def kind_for_model(policy: CompiledPolicy, model: type[models.Model]) -> str:
    """The one resource kind whose ``model:`` is ``model`` (``FilterError`` otherwise)."""
    kinds = _kinds_by_model(policy).get(model, ())
    if len(kinds) != 1:
        found = f"kinds {', '.join(kinds)} all name it" if kinds else "no kind names it"
        raise FilterError(
            f"which resource kind filters {model._meta.label}? {found}: pass kind=..."
        )
    return kinds[0]


@lru_cache(maxsize=16)
def _kinds_by_model(policy: CompiledPolicy) -> dict[type[models.Model], tuple[str, ...]]:
    found: dict[type[models.Model], list[str]] = {}
    for kind in policy.policy.resources.values():
        if kind.model:
            try:
                found.setdefault(get_model(kind.model), []).append(kind.name)
            except LookupError:
                continue
    return {model: tuple(names) for model, names in found.items()}


@dataclass(frozen=True, slots=True)
class _Prepared:
    kind: ResourceKind
    columns: dict[str, Source]


@lru_cache(maxsize=256)
def _prepared(
    policy: CompiledPolicy, model: type[models.Model], kind: str, action: str
) -> _Prepared:
    """The kind's columns, once every rule of the pair is known to compile (whatever the
    subject: an error must not depend on who asks)."""
    declared = policy.policy.resources.get(kind)
    if declared is None or action not in declared.actions:
        raise FilterError(f"the policy declares no action {action!r} on a kind {kind!r}")
    problems = pair_problems(policy.policy, model, kind, action)
    columns = kind_columns(model, declared)
    problems += [(None, mismatch) for mismatch in type_mismatches(declared, columns)]
    if problems:
        rule, reason = problems[0]
        where = f"rule {rule!r}: " if rule else ""
        raise FilterError(f"cannot filter {kind} for {action!r} in SQL: {where}{reason}", rule)
    return _Prepared(declared, columns)


def pair_problems(
    policy: Policy, model: type[models.Model], kind: str, action: str
) -> list[tuple[str | None, str]]:
    """Why lists of ``kind`` cannot be filtered for ``action`` in SQL, as (rule id or
    ``None``, reason), attribute types aside (:func:`type_mismatches`)."""
    declared = policy.resources[kind]
    columns = kind_columns(model, declared)
    problems: list[tuple[str | None, str]] = []
    for name, attribute in declared.attributes.items():
        column = columns[name]
        if attribute.type == "any":
            continue  # never type-checked: only conditions reading it matter
        if attribute.type == "list":
            if not isinstance(column, ToMany):
                problem = f"attribute {name!r} is a list held in a column, which SQL cannot check"
                problems.append((None, problem))
        elif not isinstance(column, Column):
            problems.append(
                (
                    None,
                    f"decide() checks the type of attribute {name!r} on every object, and it "
                    f"reads no column ({column}); declare it type: any if no condition "
                    "of this list reads it",
                )
            )
    compiler = ConditionCompiler(declared, columns, _SAMPLE_SUBJECT, lambda text: True)
    for rule in policy.rules:
        if rule.resource != kind or action not in rule.actions or rule.when is None:
            continue
        try:
            compiler.decision(rule.when.tree)
        except Unsupported as exc:
            problems.append((rule.id, str(exc)))
    return problems
