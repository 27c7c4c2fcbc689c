"""The decision index: per (kind, action), the rules in policy order as the bits of an int.

Built once at compile time. Each rule of a (kind, action) has one bit, in policy order;
each subject name has the mask of the rules naming it. A decision ORs the masks of the
subject's roles and visits the set bits lowest first, so it costs the rules that apply
to that subject, in policy order, without sorting or merging lists; nothing is cached
per request or per set of roles.

When the policy's inheritance is small enough (see ``closed_tables``), each role's mask
also covers the rules naming any role it inherits, so a decision reads one mask per
granted role and never computes the subject's inherited roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter

from authzguard.policy import conditions, evaluation
from authzguard.policy import roles as role_graph
from authzguard.policy.conditions import Env
from authzguard.policy.model import BUILTIN_SUBJECTS, Decision, Policy, Rule


@dataclass(frozen=True, slots=True)
class IndexedRule:
    rule: Rule
    #: ``repr(rule.id)``, as reasons quote it.
    quoted_id: str
    evaluator: conditions.Evaluator | None
    #: The decision naming this rule when the subject matched one of its subjects
    #: directly (a chain of one name), with that name, in the order the rule lists them.
    direct: tuple[tuple[str, Decision], ...]


@dataclass(frozen=True, slots=True)
class Bucket:
    """The rules of one (kind, action); bit ``i`` of a mask stands for ``rules[i]``."""

    rules: tuple[IndexedRule, ...]
    #: The bits of the deny rules.
    denies: int
    #: Rules naming ``*`` or ``anonymous`` (``[0]``), or ``*`` or ``authenticated`` (``[1]``).
    everyone: tuple[int, int]
    # The two tables are plain dicts, never written after compile: a decision reads
    # them, and a mappingproxy's ``get`` costs a second method call.
    #: Per role name, the rules naming it.
    named: Mapping[str, int]
    #: Per role name, the rules naming it or a role it inherits; ``None`` when the policy
    #: is too large for these tables (the decision then reads ``named`` per held role).
    closed: Mapping[str, int] | None
    #: The bits of the rules with a condition.
    conditional: int
    no_match: Decision

    def mask(
        self, authenticated: bool, roles: frozenset[str], inherited: Mapping[str, frozenset[str]]
    ) -> int:
        """The rules naming a built-in subject that fits, one of the granted ``roles`` or a
        role they inherit (``inherited``: the closures the index was built from)."""
        found = self.everyone[authenticated]
        closed = self.closed
        if closed is not None:
            for role in roles:
                found |= closed.get(role, 0)
            return found
        held, named = role_graph.held(roles, inherited), self.named
        if len(held) <= len(named):
            for name in held:
                found |= named.get(name, 0)
        else:
            for name, bits in named.items():
                if name in held:
                    found |= bits
        return found

    def deciding_rule(self, mask: int, s_env: Env, r_env: Env) -> IndexedRule | None:
        """Of the rules of ``mask``: the first deny whose condition holds, else the first
        allow whose condition holds, else ``None``. Every applicable allow is evaluated,
        as Casbin does: one that fails raises ``EvaluationError`` (the request denies)."""
        rules, truth = self.rules, evaluation.truth
        # Set bits, lowest (earliest in the policy) first: ``low`` is the lowest.
        denies = mask & self.denies
        allows = mask ^ denies
        while denies:
            low = denies & -denies
            denies ^= low
            compiled = rules[low.bit_length() - 1]
            evaluator = compiled.evaluator
            if evaluator is None:
                return compiled
            value = evaluator(s_env, r_env)
            # ``value is True or (...)`` is ``truth(value)`` without a call for booleans.
            if value is True or (value is not False and truth(value)):
                return compiled
        chosen: IndexedRule | None = None
        while allows:
            low = allows & -allows
            allows ^= low
            compiled = rules[low.bit_length() - 1]
            evaluator = compiled.evaluator
            if evaluator is None:
                holds = True
            else:
                value = evaluator(s_env, r_env)
                holds = value is True or (value is not False and truth(value))
            if holds and chosen is None:
                chosen = compiled
        return chosen

    def picked(self, mask: int) -> tuple[IndexedRule, ...]:
        """The rules of ``mask``, in policy order."""
        rules, out = self.rules, []
        while mask:
            low = mask & -mask
            out.append(rules[low.bit_length() - 1])
            mask ^= low
        return tuple(out)

    def names(self, effect: str) -> frozenset[str]:
        """Every subject name the rules of ``effect`` list."""
        return frozenset(n for c in self.rules if c.rule.effect == effect for n in c.rule.subjects)


def no_match_decision(bucket: Bucket, applicable_allows: tuple[IndexedRule, ...]) -> Decision:
    """Why nothing allowed: no allow rule applied, or (``explain``'s word) each one that
    applied had a condition that was false. At most five ids: a reason stays short."""
    if not applicable_allows:
        return bucket.no_match
    ids = ", ".join(map(_quoted_id, applicable_allows[:5]))
    more = f" and {len(applicable_allows) - 5} more" if len(applicable_allows) > 5 else ""
    plural = "s" if len(applicable_allows) > 1 else ""
    return Decision(False, None, f"denied: condition-false in rule{plural} {ids}{more}")


_quoted_id = attrgetter("quoted_id")


def rule_decision(rule: Rule, chain: tuple[str, ...]) -> Decision:
    allowed = rule.effect == "allow"
    verb = "allowed" if allowed else "denied"
    via = f" via {' -> '.join(chain)}" if chain else ""
    return Decision(allowed, rule.id, f"{verb} by rule {rule.id!r}{via}", chain)


def table_budget(policy: Policy) -> int:
    """Entries allowed in the inheritance tables: linear in the rules and roles."""
    entries = sum(len(rule.subjects) * len(rule.actions) for rule in policy.rules)
    links = sum(1 + len(role.inherits) for role in policy.roles.values())
    return 100_000 + 16 * (entries + links)


def holders(
    inherited: Mapping[str, frozenset[str]], budget: int
) -> dict[str, tuple[str, ...]] | None:
    """Per role, the roles that inherit it; ``None`` when that takes over ``budget`` entries."""
    if sum(len(below) for below in inherited.values()) > budget:
        return None
    out: dict[str, list[str]] = {}
    for name, below in inherited.items():
        for role in below:
            out.setdefault(role, []).append(name)
    return {role: tuple(names) for role, names in out.items()}


def build_buckets(
    policy: Policy, inherited: Mapping[str, frozenset[str]]
) -> dict[tuple[str, str], Bucket]:
    """Per (kind, action): the rules, and the mask of the rules each subject name reaches."""
    grouped: dict[tuple[str, str], list[IndexedRule]] = {}
    # Rules that repeat a condition word for word share one evaluator (a pure function
    # of the tree, and a Condition's tree is what its source parses to).
    evaluators: dict[str, conditions.Evaluator] = {}
    for rule in policy.rules:
        evaluator = None
        if rule.when is not None:
            evaluator = evaluators.get(rule.when.source)
            if evaluator is None:
                evaluator = evaluation.compile_evaluator(rule.when.tree)
                evaluators[rule.when.source] = evaluator
        direct = tuple((name, rule_decision(rule, (name,))) for name in rule.subjects)
        compiled = IndexedRule(rule, repr(rule.id), evaluator, direct)
        for action in rule.actions:
            grouped.setdefault((rule.resource, action), []).append(compiled)
    named = {key: _named(rules) for key, rules in grouped.items()}
    budget = table_budget(policy)
    closed = _closed_tables(named, holders(inherited, budget), budget)
    out: dict[tuple[str, str], Bucket] = {}
    for (kind, action), rules in grouped.items():
        by_name = named[(kind, action)]
        everyone = by_name.get("*", 0)
        out[(kind, action)] = Bucket(
            tuple(rules),
            sum(1 << i for i, c in enumerate(rules) if c.rule.effect == "deny"),
            (everyone | by_name.get("anonymous", 0), everyone | by_name.get("authenticated", 0)),
            {n: m for n, m in by_name.items() if n not in BUILTIN_SUBJECTS},
            None if closed is None else closed[(kind, action)],
            sum(1 << i for i, c in enumerate(rules) if c.evaluator is not None),
            Decision(False, None, f"denied: no rule matched {action!r} on {kind!r}"),
        )
    return out


def _named(rules: list[IndexedRule]) -> dict[str, int]:
    by_name: dict[str, int] = {}
    for i, compiled in enumerate(rules):
        for name in compiled.rule.subjects:
            by_name[name] = by_name.get(name, 0) | 1 << i
    return by_name


def _closed_tables(
    named: dict[tuple[str, str], dict[str, int]],
    holders: dict[str, tuple[str, ...]] | None,
    budget: int,
) -> dict[tuple[str, str], dict[str, int]] | None:
    """Per (kind, action), each role's mask with the masks of what it inherits ORed in;
    ``None`` when the tables would hold over ``budget`` entries."""
    if holders is None:
        return None
    size = sum(
        1 + len(holders.get(name, ()))
        for by_name in named.values()
        for name in by_name
        if name not in BUILTIN_SUBJECTS
    )
    if size > budget:
        return None
    out: dict[tuple[str, str], dict[str, int]] = {}
    for key, by_name in named.items():
        table: dict[str, int] = {}
        for name, mask in by_name.items():
            if name in BUILTIN_SUBJECTS:
                continue
            table[name] = table.get(name, 0) | mask
            for role in holders.get(name, ()):
                table[role] = table.get(role, 0) | mask
        out[key] = table
    return out
