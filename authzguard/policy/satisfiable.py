"""Whether a ``when:`` condition can ever hold, or always holds, by exact search.

Conditions compare attributes with literals and with each other (``==``, ``!=``, ``in``,
``not in``) and combine the results with ``and``, ``or`` and ``not``. Whether such a
formula holds depends only on which attributes equal which literals and which equal each
other, so it holds for some values exactly when it holds for values drawn from the
literals it mentions plus one fresh value per attribute (equality logic's small-model
property). A list attribute only ever tested for membership is, likewise, a subset of
those values plus one more fresh value. The search tries every such assignment within a
budget; past it, or for shapes outside these (a list compared with ``==``), the answer
is ``None``: unknown, and lint stays silent.

Absent attributes are not searched: an absent attribute fails the condition (a deny),
so "always holds" means "holds whenever its attributes are present".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

from authzguard.policy.conditions import BoolOp, Compare, ListLiteral, Literal, Node, Not, Ref, walk

#: Assignments tried per condition at most (each one is a walk of the tree).
BUDGET = 4096
#: Assignments one lint run tries at most, over all its conditions.
RUN_BUDGET = 200_000
#: Values a list attribute's subsets are drawn from, at most (2**n subsets).
MAX_LIST_UNIVERSE = 8


class _Fresh:
    """A value equal to nothing but itself: an attribute value no literal names."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<{self.label}>"


class _Fails(Exception):
    """The condition fails on these values (the runtime would deny)."""


class Budget:
    """Assignments one lint run may still try: a policy of many large conditions costs a
    bounded amount in all, and the conditions past the budget get no warning."""

    def __init__(self, total: int = RUN_BUDGET) -> None:
        self.left = total


def outcomes(
    node: Node, types: Mapping[tuple[str, str], str], budget: Budget | None = None
) -> tuple[bool, bool] | None:
    """Whether some values make ``node`` hold, and whether some make it fail; ``None``
    if unknown. ``types`` maps ``(scope, name)`` to the declared type (``str``, ``int``,
    ``bool``, ``key``, ``list`` or ``any``)."""
    budget = budget or Budget()
    domains = _domains(node, types, min(BUDGET, budget.left))
    if domains is None:
        return None
    names = list(domains)
    seen = [False, False]  # held, failed
    for combination in itertools.product(*(domains[n] for n in names)):
        budget.left -= 1
        env = dict(zip(names, combination, strict=True))
        try:
            held = _truth(_value(node, env))
        except _Fails:
            held = False
        seen[0 if held else 1] = True
        if seen[0] and seen[1]:
            break
    return seen[0], seen[1]


def never_holds(
    node: Node, types: Mapping[tuple[str, str], str], budget: Budget | None = None
) -> bool | None:
    """``True`` when no attribute values make ``node`` hold; ``None`` if unknown."""
    found = outcomes(node, types, budget)
    return None if found is None else not found[0]


def always_holds(
    node: Node, types: Mapping[tuple[str, str], str], budget: Budget | None = None
) -> bool | None:
    """``True`` when every assignment of present attributes makes ``node`` hold."""
    found = outcomes(node, types, budget)
    return None if found is None else not found[1]


def _domains(
    node: Node, types: Mapping[tuple[str, str], str], limit: int
) -> dict[tuple[str, str], list[object]] | None:
    """The values to try per attribute, or ``None`` past ``limit`` assignments or for a
    shape not searched. Sizes are counted before any list of values is built."""
    refs: set[tuple[str, str]] = set()
    literals: list[object] = []
    set_uses: set[tuple[str, str]] = set()
    value_uses: set[tuple[str, str]] = set()
    for item in walk(node):
        if isinstance(item, Ref):
            refs.add((item.scope, item.name))
        elif isinstance(item, Literal):
            if item.value not in literals:
                literals.append(item.value)
        elif isinstance(item, Compare):
            for side in (item.left, item.right):
                if isinstance(side, Ref):
                    as_set = item.op in ("in", "not in") and side is item.right
                    (set_uses if as_set else value_uses).add((side.scope, side.name))
    lists = {ref for ref in refs if types.get(ref, "any") == "list"}
    if lists & value_uses:
        return None  # a list compared as a value: its order matters, not searched
    scalars = sorted(refs - lists)
    universe_size = len(literals) + len(scalars) + 1
    if lists and universe_size > MAX_LIST_UNIVERSE:
        return None
    size = 2 ** (universe_size * len(lists))
    for ref in scalars:
        declared = types.get(ref, "any")
        size *= (
            2 if declared == "bool" else len(scalars) + sum(_fits(v, declared) for v in literals)
        )
        if size > limit:
            return None
    if size > limit:
        return None
    fresh: list[object] = [_Fresh(f"{scope}.{name}") for scope, name in scalars]
    domains: dict[tuple[str, str], list[object]] = {}
    for ref in scalars:
        declared = types.get(ref, "any")
        if declared == "bool":
            domains[ref] = [True, False]
        else:
            domains[ref] = [v for v in literals if _fits(v, declared)] + fresh
    universe = [*literals, *fresh, _Fresh("other")]
    for ref in sorted(lists):
        domains[ref] = [list(subset) for subset in _subsets(universe)]
    return domains


def _fits(value: object, declared: str) -> bool:
    if declared == "str":
        return isinstance(value, str)
    if declared == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if declared == "key":
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    return True


def _subsets(universe: list[object]) -> Iterator[tuple[object, ...]]:
    for size in range(len(universe) + 1):
        yield from itertools.combinations(universe, size)


def _value(node: Node, env: Mapping[tuple[str, str], object]) -> object:
    """The condition's value, as the runtime evaluator computes it."""
    if isinstance(node, Ref):
        return env[(node.scope, node.name)]
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListLiteral):
        return [item.value for item in node.items]
    if isinstance(node, Compare):
        left, right = _value(node.left, env), _value(node.right, env)
        if node.op == "==":
            return left == right
        if node.op == "!=":
            return left != right
        if not isinstance(right, list):
            raise _Fails
        return (left in right) == (node.op == "in")
    if isinstance(node, Not):
        return not _value(node.operand, env)
    assert isinstance(node, BoolOp)
    value: object = node.op == "and"
    for operand in node.operands:
        value = _value(operand, env)
        if bool(value) != (node.op == "and"):
            return value
    return value


def _truth(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise _Fails


def reads_subject(node: Node) -> list[str]:
    """The subject attributes a condition reads (``id``, ``username``, ``email``)."""
    return sorted({r.name for r in walk(node) if isinstance(r, Ref) and r.scope == "subject"})
