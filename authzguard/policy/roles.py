"""Walks over the role inheritance graph, each bounded by the size of the policy.

A policy can declare wide diamonds (every path counted would be exponential), long
chains (recursion would overflow the stack) and fans whose transitive closure is
quadratic in the file. Every walk here is iterative and visits each role and each
inheritance link a bounded number of times; the one walk whose output can outgrow its
input, the closure, stops at a budget linear in the policy and says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from authzguard.policy.model import Role

#: pycasbin's role manager follows at most this many inheritance links.
MAX_ROLE_DEPTH = 9


def _parents(roles: Mapping[str, Role], name: str) -> tuple[str, ...]:
    return tuple(p for p in roles[name].inherits if p in roles)


def cycles(roles: Mapping[str, Role]) -> list[tuple[str, ...]]:
    """One inheritance cycle per strongly connected group of roles, as ``(a, b, ..., a)``.

    Tarjan's algorithm with an explicit stack; each cycle starts at the group's first
    declared role and follows ``inherits`` in the order written.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for root in roles:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            name, child = work.pop()
            if child == 0:
                index[name] = low[name] = len(index)
                stack.append(name)
                on_stack.add(name)
            parents = _parents(roles, name)
            if child > 0:
                low[name] = min(low[name], low[parents[child - 1]])
            while child < len(parents):
                parent = parents[child]
                if parent not in index:
                    work.append((name, child + 1))
                    work.append((parent, 0))
                    break
                if parent in on_stack:
                    low[name] = min(low[name], index[parent])
                child += 1
            else:
                if low[name] == index[name]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == name:
                            break
                    if len(group) > 1 or name in parents:
                        groups.append(group)
    order = {name: i for i, name in enumerate(roles)}
    found = [_cycle_through(roles, set(g), min(g, key=order.__getitem__)) for g in groups]
    return sorted(found, key=lambda c: order[c[0]])


def _cycle_through(roles: Mapping[str, Role], group: set[str], start: str) -> tuple[str, ...]:
    """A path from ``start`` back to itself inside ``group`` (depth-first, written order)."""
    path = [start]
    pending = [iter(_parents(roles, start))]
    seen = {start}
    while pending:
        for parent in pending[-1]:
            if parent == start:
                return (*path, start)
            if parent in group and parent not in seen:
                seen.add(parent)
                path.append(parent)
                pending.append(iter(_parents(roles, parent)))
                break
        else:
            pending.pop()
            path.pop()
    raise AssertionError("a strongly connected group always has a cycle")  # pragma: no cover


def _parents_first(roles: Mapping[str, Role]) -> list[str]:
    """Every role, each after all the roles it inherits (``ValueError`` on a cycle)."""
    order: list[str] = []
    done: set[str] = set()
    open_: set[str] = set()
    for root in roles:
        work = [root]
        while work:
            name = work[-1]
            if name in done:
                work.pop()
                continue
            if name not in open_:
                open_.add(name)
                for parent in _parents(roles, name):
                    if parent in open_:
                        raise ValueError(f"role inheritance cycle through {parent!r}")
                    if parent not in done:
                        work.append(parent)
                continue
            work.pop()
            open_.discard(name)
            done.add(name)
            order.append(name)
    return order


def depths(roles: Mapping[str, Role]) -> dict[str, int]:
    """The longest inheritance path below each role (0 for a role inheriting nothing).

    The graph must be free of cycles (check :func:`cycles` first).
    """
    depth: dict[str, int] = {}
    for name in _parents_first(roles):
        depth[name] = 1 + max((depth[p] for p in _parents(roles, name)), default=-1)
    return depth


class ClosureTooLarge(Exception):
    """The roles' transitive closure would exceed its budget."""

    def __init__(self, budget: int) -> None:
        super().__init__(budget)
        self.budget = budget


def closure_budget(roles: Mapping[str, Role]) -> int:
    """Work allowed for :func:`closures`: linear in the declarations (roles and links)."""
    return 100_000 + 64 * sum(1 + len(role.inherits) for role in roles.values())


def closures(roles: Mapping[str, Role], budget: int | None = None) -> dict[str, frozenset[str]]:
    """Every role a role holder has, through inheritance (the role itself excluded).

    Roles that inherit the same set of roles share one set, so wide layers cost their
    links, not links times closure. Raises :class:`ClosureTooLarge` when the sets built
    would exceed ``budget`` entries (by default :func:`closure_budget`). The graph must
    be free of cycles.
    """
    allowed = closure_budget(roles) if budget is None else budget
    left = allowed
    inherited: dict[str, frozenset[str]] = {}
    by_parents: dict[frozenset[str], frozenset[str]] = {}
    for name in _parents_first(roles):
        parents = frozenset(_parents(roles, name))
        shared = by_parents.get(parents)
        if shared is None:
            reached: set[str] = set()
            merged: set[int] = set()
            # Largest first: a parent already inherited through another adds nothing, and
            # siblings of one layer share one set, merged once.
            for parent in sorted(parents, key=lambda p: -len(inherited[p])):
                below = inherited[parent]
                if parent in reached or id(below) in merged:
                    continue
                merged.add(id(below))
                left -= len(below)
                if left < 0:
                    raise ClosureTooLarge(allowed)
                reached.update(below)
            reached.update(parents)
            left -= len(reached)
            if left < 0:
                raise ClosureTooLarge(allowed)
            shared = by_parents[parents] = frozenset(reached)
        left -= 1
        inherited[name] = shared
    return inherited


def held(roles: frozenset[str], inherited: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """``roles`` and every role they inherit (``inherited``: what :func:`closures` gives)."""
    below = [inherited[r] for r in roles if inherited.get(r)]
    return roles.union(*below) if below else roles


def shortest_paths(
    roles: Mapping[str, Role], inherited: Mapping[str, frozenset[str]], budget: int
) -> dict[tuple[str, str], tuple[str, ...]] | None:
    """Per role and each role it inherits, the shortest inheritance path from one to the
    other (breadth-first, parents in the order written); ``None`` when the roles inherit
    more than ``budget`` roles in all, or the walks would follow more links than that."""
    if sum(len(below) for below in inherited.values()) > budget:
        return None
    links = {name: len(_parents(roles, name)) for name in roles}
    walked = sum(links[start] + sum(links[n] for n in below) for start, below in inherited.items())
    if walked > budget:
        return None
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for start, below in inherited.items():
        if not below:
            continue
        paths: dict[str, tuple[str, ...]] = {start: (start,)}
        frontier = deque([start])
        while frontier:
            name = frontier.popleft()
            for parent in _parents(roles, name):
                if parent not in paths:
                    paths[parent] = (*paths[name], parent)
                    frontier.append(parent)
        for target, path in paths.items():
            if target != start:
                out[(start, target)] = path
    return out


def path_between(
    roles: Mapping[str, Role], inherited: Mapping[str, frozenset[str]], start: str, target: str
) -> tuple[str, ...] | None:
    """The path :func:`shortest_paths` gives from ``start`` to ``target``, if any, found
    breadth-first over the roles that lead to ``target`` only."""
    if start == target:
        return (start,)
    if target not in inherited.get(start, ()):
        return None
    previous: dict[str, str] = {start: start}
    frontier = deque([start])
    while frontier:
        name = frontier.popleft()
        if name == target:
            path = [name]
            while path[-1] != start:
                path.append(previous[path[-1]])
            return tuple(reversed(path))
        for parent in _parents(roles, name):
            if parent not in previous and (parent == target or target in inherited[parent]):
                previous[parent] = name
                frontier.append(parent)
    return None  # pragma: no cover - target is inherited, so a path exists
