"""Whether two policies give one principal the same access, by exact search.

The access of a principal to ``(kind, action)`` is "some applicable allow holds, no
applicable deny holds, nothing fails to evaluate". Conditions only compare attributes
with literals and with each other, so whether two accesses differ depends only on which
attributes equal which literals, which equal each other, and which are absent (the
small-model property :mod:`authzguard.policy.satisfiable` relies on). The search tries
every assignment drawn from the literals of both versions, one fresh value per attribute
and type family, and absence, and decides each one under both policies with
``CompiledPolicy.decide`` itself: what it reports is what the runtime would do. Past
:data:`BUDGET` assignments the answer is "unknown", never a guess.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from authzguard.policy.access import DEFAULT_ID, Access
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.facts import Facts, subject_from_facts
from authzguard.policy.model import SUBJECT_ATTRIBUTES, Decision, Resource, Subject

#: Assignments tried per principal, kind and action at most (each decided twice).
BUDGET = 20_000
#: Assignments one run tries at most, over every principal, kind and action.
RUN_BUDGET = 400_000
#: Values a list attribute's subsets are drawn from, at most (2**n subsets).
MAX_LIST_UNIVERSE = 8

Ref = tuple[str, str]


class Budget:
    """Assignments a run may still try; cells past it are reported unknown."""

    def __init__(self, total: int = RUN_BUDGET) -> None:
        self.left = total
        self.tried = 0


@dataclass(frozen=True, slots=True)
class Example:
    """A concrete principal and target, decided under both policies."""

    facts: Facts
    resource: Resource
    base: Decision
    new: Decision

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.facts.as_dict(),
            "resource": {"kind": self.resource.kind, **dict(self.resource.attributes)},
            "base": _decision_dict(self.base),
            "new": _decision_dict(self.new),
        }

    def describe(self) -> str:
        subject = ", ".join(f"{k}={v!r}" for k, v in self.facts.as_dict().items() if v != [])
        attributes = ", ".join(f"{k}={v!r}" for k, v in self.resource.attributes.items())
        return (
            f"subject {{{subject}}} on {self.resource.kind} {{{attributes or 'no attributes'}}}:"
            f" base {_said(self.base)}, new {_said(self.new)}"
        )


def _said(decision: Decision) -> str:
    word = "allows" if _allowed(decision) else "denies"
    return f"{word} ({decision.rule})" if decision.rule else word


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {"allowed": _allowed(decision), "rule": decision.rule, "reason": decision.reason}


def _allowed(decision: Decision) -> bool:
    return decision.allowed and decision.error is None


@dataclass(frozen=True, slots=True)
class Comparison:
    widening: Example | None = None
    narrowing: Example | None = None
    #: Why the search could not finish (then the difference is unknown).
    unknown: str | None = None
    tried: int = 0


def compare(
    base: CompiledPolicy,
    new: CompiledPolicy,
    facts: Facts,
    kind: str,
    action: str,
    accesses: tuple[Access, Access],
    budget: Budget | None = None,
) -> Comparison:
    """Search for a target (and subject attributes) that one policy allows and the other
    denies, for a principal with ``facts``; both examples, when they exist, are checked."""
    budget = budget or Budget()
    domains = _domains(base, new, facts, kind, accesses, min(BUDGET, budget.left))
    if isinstance(domains, str):
        return Comparison(unknown=domains)
    roles = [subject_from_facts(policy, facts).roles for policy in (base, new)]
    names = list(domains)
    widening: Example | None = None
    narrowing: Example | None = None
    tried = 0
    for values in itertools.product(*(domains[n] for n in names)):
        tried += 1
        env = dict(zip(names, values, strict=True))
        subject_values = {name: env.get(("subject", name)) for name in SUBJECT_ATTRIBUTES}
        if facts.authenticated and subject_values["id"] is None:
            subject_values["id"] = facts.id if facts.id is not None else DEFAULT_ID
        if facts.authenticated and subject_values["username"] is None:
            subject_values["username"] = facts.username or "user"
        attributes = {
            n: v for (scope, n), v in env.items() if scope == "resource" and v is not None
        }
        resource = Resource(kind, attributes)
        said = [
            _allowed(policy.decide(_subject(facts, subject_values, held), action, resource))
            for policy, held in zip((base, new), roles, strict=True)
        ]
        if said[1] and not said[0] and widening is None:
            widening = _checked(base, new, facts, subject_values, action, resource, True)
        elif said[0] and not said[1] and narrowing is None:
            narrowing = _checked(base, new, facts, subject_values, action, resource, False)
        if widening is not None and narrowing is not None:
            break
    budget.left -= tried
    budget.tried += tried
    return Comparison(widening, narrowing, None, tried)


def _subject(facts: Facts, values: Mapping[str, object], roles: frozenset[str]) -> Subject:
    if not facts.authenticated:
        return Subject(roles=roles)
    return Subject(
        id=values["id"],
        username=values["username"],  # type: ignore[arg-type]
        email=values["email"],  # type: ignore[arg-type]
        roles=roles,
        authenticated=True,
    )


def _checked(
    base: CompiledPolicy,
    new: CompiledPolicy,
    facts: Facts,
    values: Mapping[str, object],
    action: str,
    resource: Resource,
    widens: bool,
) -> Example | None:
    """The example as facts, decided again from those facts alone under both policies."""
    if facts.authenticated:
        facts = Facts(
            authenticated=True,
            id=values["id"],
            username=values["username"],  # type: ignore[arg-type]
            email=values["email"],  # type: ignore[arg-type]
            staff=facts.staff,
            superuser=facts.superuser,
            groups=facts.groups,
        )
    decisions = [
        policy.decide(subject_from_facts(policy, facts), action, resource) for policy in (base, new)
    ]
    if _allowed(decisions[1]) != widens or _allowed(decisions[0]) == widens:
        return None  # pragma: no cover - the search decided the same values
    return Example(facts, resource, decisions[0], decisions[1])


def _types(base: CompiledPolicy, new: CompiledPolicy, kind: str) -> dict[Ref, str]:
    types: dict[Ref, str] = {("subject", n): t for n, t in SUBJECT_ATTRIBUTES.items()}
    for policy in (base, new):
        declared = policy.policy.resources.get(kind)
        for attribute in declared.attributes.values() if declared is not None else ():
            ref = ("resource", attribute.name)
            seen = types.get(ref)
            types[ref] = attribute.type if seen in (None, attribute.type) else "any"
    return types


def _domains(
    base: CompiledPolicy,
    new: CompiledPolicy,
    facts: Facts,
    kind: str,
    accesses: tuple[Access, Access],
    limit: int,
) -> dict[Ref, list[object]] | str:
    """The values to try per attribute read, or why not (past ``limit``; sizes are
    counted before any value list is built)."""
    reads = sorted(accesses[0].reads() | accesses[1].reads())
    literals = list(accesses[0].literals())
    for value in accesses[1].literals():
        if not any(type(v) is type(value) and v == value for v in literals):
            literals.append(value)
    types = _types(base, new, kind)
    # An anonymous subject has no attributes: nothing to vary.
    reads = [r for r in reads if r[0] == "resource" or facts.authenticated]
    scalars = [r for r in reads if types.get(r, "any") != "list"]
    lists = [r for r in reads if types.get(r, "any") == "list"]
    ints = _fresh_ints(literals, sum(types.get(r, "any") in ("int", "key", "any") for r in scalars))
    strs = _fresh_strs(literals, sum(types.get(r, "any") in ("str", "key", "any") for r in scalars))
    domains: dict[Ref, list[object]] = {}
    size = 1
    for ref in scalars:
        required = ref[0] == "subject" and ref[1] in ("id", "username")
        domains[ref] = _scalar_domain(types.get(ref, "any"), literals, ints, strs, required)
        size *= len(domains[ref])
        if size > limit:
            return f"more than {limit} assignments of {len(reads)} attributes to try"
    if lists:
        universe = [v for v in literals if not isinstance(v, bool)] + ints + strs + ["value-other"]
        if len(universe) > MAX_LIST_UNIVERSE:
            return f"a list attribute over {len(universe)} values (at most {MAX_LIST_UNIVERSE})"
        size *= (2 ** len(universe) + 1) ** len(lists)
        if size > limit:
            return f"more than {limit} assignments of {len(reads)} attributes to try"
        subsets = [
            list(c) for n in range(len(universe) + 1) for c in itertools.combinations(universe, n)
        ]
        for ref in lists:
            domains[ref] = [*subsets, None]
    return domains


def _scalar_domain(
    declared: str,
    literals: Sequence[object],
    ints: list[object],
    strs: list[object],
    required: bool,
) -> list[object]:
    if declared == "bool":
        values: list[object] = [True, False]
    else:
        values = [v for v in literals if _fits(v, declared)]
        if declared in ("int", "key", "any"):
            values += ints
        if declared in ("str", "key", "any"):
            values += strs
    # Absent last: a counterexample with every attribute present reads best.
    return values if required else [*values, None]


def _fits(value: object, declared: str) -> bool:
    if isinstance(value, bool):
        return declared == "any"
    if declared == "str":
        return isinstance(value, str)
    if declared == "int":
        return isinstance(value, int)
    return True  # key and any: an int or a string


def _fresh_ints(literals: Sequence[object], count: int) -> list[object]:
    taken = {v for v in literals if isinstance(v, int) and not isinstance(v, bool)}
    return list(itertools.islice((n for n in itertools.count(1) if n not in taken), count))


def _fresh_strs(literals: Sequence[object], count: int) -> list[object]:
    taken = {v for v in literals if isinstance(v, str)}
    names = (f"value-{n}" for n in itertools.count(1))
    return list(itertools.islice((s for s in names if s not in taken), count))
