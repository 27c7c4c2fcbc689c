"""Lint warnings about conditions and broad roles (AZ302's reach, AZ303-AZ305).

- AZ303: a ``when:`` that no attribute values can make hold: the rule is dead.
- AZ304: a deny whose ``when:`` always holds (``when: true``): it denies unconditionally
  while reading as conditional, and AZ301's shadowing check does not count it.
- AZ305: a condition reading ``subject.id``, ``username`` or ``email`` in a rule only
  anonymous visitors match: they have none, so the value is always null.

Each walk is bounded: roles and inheritance links once each, and conditions by the
search budget of :mod:`authzguard.policy.satisfiable`.
"""

from __future__ import annotations

from collections.abc import Iterable

from authzguard.policy import conditions, satisfiable
from authzguard.policy.findings import Finding
from authzguard.policy.model import SUBJECT_ATTRIBUTES, Policy, Rule

_BROAD_SOURCES = frozenset({"authenticated", "anonymous"})


def _reached(policy: Policy, starts: Iterable[str]) -> set[str]:
    """``starts`` and every role they inherit, directly or not (each role visited once)."""
    seen: set[str] = set()
    stack = [name for name in starts if name in policy.roles]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(r for r in policy.roles[name].inherits if r in policy.roles and r not in seen)
    return seen


def broad_roles(policy: Policy) -> set[str]:
    """Roles every signed-in user, or every anonymous visitor, holds: those granted to
    ``authenticated`` or ``anonymous``, and every role they inherit."""
    granted = [
        role.name
        for role in policy.roles.values()
        if any(source.kind in _BROAD_SOURCES for source in role.granted_to)
    ]
    return _reached(policy, granted)


def anonymous_only_roles(policy: Policy) -> set[str]:
    """Roles that only anonymous visitors can hold at run time."""
    anonymous = {
        role.name
        for role in policy.roles.values()
        if role.granted_to and all(source.kind == "anonymous" for source in role.granted_to)
    }
    others = [name for name in policy.roles if name not in anonymous]
    return anonymous - _reached(policy, others)


def condition_findings(policy: Policy) -> list[Finding]:
    out: list[Finding] = []
    anonymous_only = anonymous_only_roles(policy) | {"anonymous"}
    budget = satisfiable.Budget()
    # Rules often repeat a condition word for word: each is searched once per kind.
    searched: dict[tuple[str, str], tuple[bool, bool] | None] = {}
    for rule in policy.rules:
        if rule.when is None:
            continue
        key = (rule.when.source, rule.resource)
        if key not in searched:
            searched[key] = satisfiable.outcomes(rule.when.tree, _types(policy, rule), budget)
        found = searched[key]
        if found is not None and not found[0]:
            out.append(
                _warning(
                    rule,
                    "AZ303",
                    f"rule {rule.id!r} can never apply: no values make its condition hold "
                    f"({rule.when.source})",
                )
            )
        elif found is not None and rule.effect == "deny" and not found[1]:
            out.append(
                _warning(
                    rule,
                    "AZ304",
                    f"deny rule {rule.id!r} has a condition that always holds "
                    f"({rule.when.source}): it denies unconditionally; drop `when:` or fix it",
                )
            )
        if set(rule.subjects) <= anonymous_only:
            # An anonymous visitor's groups are known: there are none (an empty list).
            read = [n for n in satisfiable.reads_subject(rule.when.tree) if n != "groups"]
            if read:
                names = ", ".join(f"subject.{name}" for name in read)
                out.append(
                    _warning(
                        rule,
                        "AZ305",
                        f"rule {rule.id!r} reads {names}, but only anonymous visitors match "
                        "it and they have none (always null)",
                    )
                )
    return out


def _types(policy: Policy, rule: Rule) -> dict[tuple[str, str], str]:
    types: dict[tuple[str, str], str] = {
        ("subject", name): kind for name, kind in SUBJECT_ATTRIBUTES.items()
    }
    kind = policy.resources.get(rule.resource)
    for attribute in kind.attributes.values() if kind is not None else ():
        types[("resource", attribute.name)] = attribute.type
    assert rule.when is not None
    for ref in conditions.refs(rule.when.tree):
        types.setdefault((ref.scope, ref.name), "any")
    return types


def _warning(rule: Rule, code: str, message: str) -> Finding:
    where = rule.when.position if rule.when is not None else rule.position
    if where.line == 0:
        where = rule.position
    return Finding(where.file, where.line, where.column, "warning", code, message)
