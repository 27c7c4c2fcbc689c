"""The decision index: per (kind, action), each effect's rules by the subjects they name.

Built once at compile time. A decision looks up the subject's roles here and merges the
few lists it finds in policy order, so it costs the rules that apply to that subject;
nothing is cached per request or per set of roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from authzguard.policy import conditions, evaluation
from authzguard.policy.model import BUILTIN_SUBJECTS, Decision, Policy, Rule


@dataclass(frozen=True, slots=True)
class IndexedRule:
    #: Position in the policy: lists of rules merge by it.
    order: int
    rule: Rule
    evaluator: conditions.Evaluator | None
    #: The decision naming this rule when the subject matched one of its subjects
    #: directly (a chain of one name), by that name.
    direct: Mapping[str, Decision]


#: Rules of one (kind, action) by the role names they list, each list in policy order.
Table = Mapping[str, tuple[IndexedRule, ...]]


@dataclass(frozen=True, slots=True)
class Rules:
    """One effect's rules of one (kind, action)."""

    #: Those naming ``*`` or ``anonymous`` (``[0]``), or ``*`` or ``authenticated``
    #: (``[1]``): they apply to every subject of that kind, merged in policy order.
    everyone: tuple[tuple[IndexedRule, ...], tuple[IndexedRule, ...]]
    by_role: Table

    def applicable(self, authenticated: bool, held: frozenset[str]) -> tuple[IndexedRule, ...]:
        """The rules naming a built-in subject that fits or one of the ``held`` roles."""
        base = self.everyone[authenticated]
        if not held:
            return base
        table = self.by_role
        if len(held) <= len(table):
            found = [table[name] for name in held if name in table]
        else:
            found = [rules for name, rules in table.items() if name in held]
        if not found:
            return base
        if not base and len(found) == 1:
            return found[0]
        merged = {c.order: c for c in base}
        for rules in found:
            for c in rules:
                merged[c.order] = c
        return tuple(merged[order] for order in sorted(merged))

    def names(self) -> frozenset[str]:
        """Every subject name these rules list."""
        everyone = {name for rules in self.everyone for c in rules for name in c.rule.subjects}
        return frozenset(self.by_role) | (everyone & BUILTIN_SUBJECTS)


@dataclass(frozen=True, slots=True)
class Bucket:
    denies: Rules
    allows: Rules
    uses_conditions: bool
    no_match: Decision


def no_match_decision(bucket: Bucket, applicable_allows: tuple[IndexedRule, ...]) -> Decision:
    """Why nothing allowed: no allow rule applied, or (``explain``'s word) each one that
    applied had a condition that was false. At most five ids: a reason stays short."""
    if not applicable_allows:
        return bucket.no_match
    ids = ", ".join(repr(c.rule.id) for c in applicable_allows[:5])
    more = f" and {len(applicable_allows) - 5} more" if len(applicable_allows) > 5 else ""
    plural = "s" if len(applicable_allows) > 1 else ""
    return Decision(False, None, f"denied: condition-false in rule{plural} {ids}{more}")


def rule_decision(rule: Rule, chain: tuple[str, ...]) -> Decision:
    allowed = rule.effect == "allow"
    verb = "allowed" if allowed else "denied"
    via = f" via {' -> '.join(chain)}" if chain else ""
    return Decision(allowed, rule.id, f"{verb} by rule {rule.id!r}{via}", chain)


def build_buckets(policy: Policy) -> dict[tuple[str, str], Bucket]:
    """Per (kind, action): the deny and the allow rules by each subject name they list."""
    tables: dict[tuple[str, str], tuple[dict[str, list[IndexedRule]], ...]] = {}
    # Rules that repeat a condition word for word share one evaluator (a pure function
    # of the tree, and a Condition's tree is what its source parses to).
    evaluators: dict[str, conditions.Evaluator] = {}
    for order, rule in enumerate(policy.rules):
        evaluator = None
        if rule.when is not None:
            evaluator = evaluators.get(rule.when.source)
            if evaluator is None:
                evaluator = evaluation.compile_evaluator(rule.when.tree)
                evaluators[rule.when.source] = evaluator
        direct = MappingProxyType({name: rule_decision(rule, (name,)) for name in rule.subjects})
        compiled = IndexedRule(order, rule, evaluator, direct)
        for action in rule.actions:
            denies, allows = tables.setdefault((rule.resource, action), ({}, {}))
            table = denies if rule.effect == "deny" else allows
            for name in rule.subjects:
                table.setdefault(name, []).append(compiled)
    out: dict[tuple[str, str], Bucket] = {}
    for (kind, action), (denies, allows) in tables.items():
        uses = any(
            c.evaluator is not None for t in (denies, allows) for cs in t.values() for c in cs
        )
        out[(kind, action)] = Bucket(
            _rules_of(denies),
            _rules_of(allows),
            uses,
            Decision(False, None, f"denied: no rule matched {action!r} on {kind!r}"),
        )
    return out


def _rules_of(by_name: dict[str, list[IndexedRule]]) -> Rules:
    def everyone(names: tuple[str, str]) -> tuple[IndexedRule, ...]:
        merged = {c.order: c for name in names for c in by_name.get(name, ())}
        return tuple(merged[order] for order in sorted(merged))

    return Rules(
        (everyone(("*", "anonymous")), everyone(("*", "authenticated"))),
        MappingProxyType({n: tuple(cs) for n, cs in by_name.items() if n not in BUILTIN_SUBJECTS}),
    )
