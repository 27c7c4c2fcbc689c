"""Generated policies that are worst cases for the loader's walks over roles, rules and names.

Shared by ``tests/test_policy_worst_cases.py`` (small sizes, ratio bounds) and
``bench/bench_lint_worst_cases.py`` (growing sizes, printed). Each generator takes a
scale and returns the text of one policy file; the file is valid unless its name says
otherwise (typos, cycles, chains deeper than the supported depth).
"""

from __future__ import annotations

from collections.abc import Callable

_HEADER = """\
version: 1
resources:
  doc:
    actions: [read, edit, delete]
    attributes: {owner: key}
"""


def _roles(lines: list[str]) -> str:
    return "roles:\n" + "".join(lines)


def _rule(i: int, effect: str, subjects: str, when: str = "") -> str:
    cond = f", when: {when}" if when else ""
    return (
        f"  - {{id: r{i}, effect: {effect}, subjects: [{subjects}], actions: [read],"
        f" resource: doc{cond}}}\n"
    )


def layers(n: int, layers: int = 10) -> str:
    """``layers`` layers of ``n`` roles, each inheriting all ``n`` roles of the layer below
    (wide diamonds: the number of inheritance paths grows as ``n ** layers``)."""
    lines = [f"  l0-{i}: {{}}\n" for i in range(n)]
    for layer in range(1, layers):
        below = ", ".join(f"l{layer - 1}-{j}" for j in range(n))
        lines += [f"  l{layer}-{i}: {{inherits: [{below}]}}\n" for i in range(n)]
    top = ", ".join(f"l{layers - 1}-{i}" for i in range(n))
    rules = "rules:\n" + _rule(0, "allow", top, "resource.owner == subject.id")
    rules += _rule(1, "deny", f"l0-{n - 1}")
    return _HEADER + _roles(lines) + rules


def chain(n: int) -> str:
    """``n`` roles, each inheriting the one before: deeper than supported past 10."""
    lines = ["  c0: {}\n"] + [f"  c{i}: {{inherits: [c{i - 1}]}}\n" for i in range(1, n)]
    return _HEADER + _roles(lines) + "rules:\n" + _rule(0, "allow", f"c{n - 1}")


def cycle(n: int) -> str:
    """``n`` roles in one inheritance cycle, plus a clique of roles inheriting each other."""
    lines = [f"  c{i}: {{inherits: [c{(i + 1) % n}]}}\n" for i in range(n)]
    clique = min(n, 60)
    names = [f"k{i}" for i in range(clique)]
    for name in names:
        lines.append(f"  {name}: {{inherits: [{', '.join(x for x in names if x != name)}]}}\n")
    return _HEADER + _roles(lines) + "rules:\n" + _rule(0, "allow", "c0")


def fan(n: int, shared: bool = True) -> str:
    """``n`` roles inheriting one hub that inherits ``n`` leaf roles: the inheritance
    closure has ``n * n`` entries for ``3 * n`` declarations. With ``shared=False`` each
    top role also inherits a leaf of its own, so no two inherit the same set of roles."""
    lines = [f"  leaf{i}: {{}}\n" for i in range(n)]
    lines.append(f"  hub: {{inherits: [{', '.join(f'leaf{i}' for i in range(n))}]}}\n")
    own = [f", leaf{i}" if not shared else "" for i in range(n)]
    lines += [f"  top{i}: {{inherits: [hub{own[i]}]}}\n" for i in range(n)]
    rules = [_rule(i, "allow", f"top{i}", "resource.owner == subject.id") for i in range(n)]
    rules += [_rule(n + i, "deny", f"leaf{i}") for i in range(n)]
    return _HEADER + _roles(lines) + "rules:\n" + "".join(rules)


def typos(n: int, roles: int = 200) -> str:
    """``n`` rules, each naming a different undefined role close to a defined one."""
    lines = [f"  team-member-{i}: {{}}\n" for i in range(roles)]
    rules = [_rule(i, "allow", f"team-membr-{i}") for i in range(n)]
    return _HEADER + _roles(lines) + "rules:\n" + "".join(rules)


def denies(n: int) -> str:
    """``n`` allow rules and ``n`` unconditional deny rules on one resource and action,
    none shadowing another (so no early stop)."""
    lines = [f"  role{i}: {{}}\n" for i in range(100)]
    rules = [_rule(i, "allow", f"role{i % 50}") for i in range(n)]
    rules += [_rule(n + i, "deny", f"role{50 + i % 50}") for i in range(n)]
    return _HEADER + _roles(lines) + "rules:\n" + "".join(rules)


def rules(n: int, conditions: bool = True) -> str:
    """A plain large policy: ``n`` rules without anchors (the node budget's case)."""
    when = "resource.owner == subject.id" if conditions else ""
    lines = [f"  role{i}: {{}}\n" for i in range(50)]
    body = [_rule(i, "allow", f"role{i % 50}", when) for i in range(n)]
    return _HEADER + _roles(lines) + "rules:\n" + "".join(body)


#: Every generator, by name, with a scale that keeps its file a few dozen kilobytes.
GENERATORS: dict[str, tuple[Callable[[int], str], int]] = {
    "layers": (layers, 40),
    "chain": (chain, 1_200),
    "cycle": (cycle, 1_200),
    "fan": (fan, 600),
    "typos": (typos, 1_000),
    "denies": (denies, 600),
    "rules": (rules, 1_000),
}
