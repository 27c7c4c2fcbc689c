"""A semantic diff of two policies: who may do what, not which lines moved.

For every principal (:func:`access.principals_for`), kind and action declared by either
version, the two accesses are compared by exact search (:mod:`compare`): a change is
*widening* when some principal and target are allowed by NEW and denied by BASE (with
that counterexample, decided under both), *narrowing* the other way round, *unknown*
when the search would pass its bound. Changes to the policy's structure (files, roles
and what grants them, kinds, actions, attributes, rules, the ``lint:`` block) are listed
too, each citing where it was written. A policy only reordered, reformatted or
re-commented has an empty diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from authzguard.policy import conditions
from authzguard.policy.access import Access, Principal, Principals, access, kind_actions
from authzguard.policy.access import principals_for as _principals_for
from authzguard.policy.compare import Budget, Comparison, Example, compare
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.facts import subject_from_facts
from authzguard.policy.model import Policy, Position, Rule

#: How a change counts: ``widen``, ``narrow``, ``both`` (some of each) or ``unknown``.
Effect = str


@dataclass(frozen=True, slots=True)
class Side:
    """One version's access, as a change line shows it."""

    condition: str
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """What changed for some principals on one (kind, action)."""

    kind: str
    action: str
    effect: Effect
    principals: tuple[str, ...]
    base: Side
    new: Side
    widening: Example | None = None
    narrowing: Example | None = None
    unknown: str | None = None

    @property
    def widens(self) -> bool:
        """Counts for ``--fail-on widen`` (an unknown change does, and says so)."""
        return self.effect in ("widen", "both", "unknown")


@dataclass(frozen=True, slots=True)
class StructureChange:
    """A change to what the policy declares: ``what`` is a sentence, ``at`` its places."""

    topic: str
    what: str
    base_at: str | None = None
    new_at: str | None = None
    #: Relaxes a safeguard (``lint:`` no longer treats an action as destructive).
    relaxes: bool = False


@dataclass(slots=True)
class PolicyDiff:
    base_label: str
    new_label: str
    principals: Principals
    structure: list[StructureChange] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.structure and not self.changes

    def widens(self) -> bool:
        return any(c.widens for c in self.changes) or any(s.relaxes for s in self.structure)

    def counts(self) -> dict[str, int]:
        out = {"widen": 0, "narrow": 0, "both": 0, "unknown": 0}
        for change in self.changes:
            out[change.effect] += 1
        return out


@dataclass(frozen=True, slots=True)
class Version:
    """A loaded policy and how to name its files (relative to where it was read)."""

    label: str
    compiled: CompiledPolicy
    #: The file name as reported (``base:policies/demo.yaml``) from the name it was loaded as.
    display: Callable[[str], str] = str
    #: The name used to match a file with its counterpart in the other version.
    relative: Callable[[str], str] = str


def diff(base: Version, new: Version, budget: Budget | None = None) -> PolicyDiff:
    policies = [base.compiled.policy, new.compiled.policy]
    principals = _principals_for(policies)
    result = PolicyDiff(base.label, new.label, principals)
    result.structure = structure_changes(base, new)
    budget = budget or Budget()
    grouped: dict[tuple[object, ...], list[Principal]] = {}
    found: dict[tuple[object, ...], tuple[Change, Comparison]] = {}
    for kind, action in kind_actions(policies):
        seen: dict[tuple[object, ...], Comparison] = {}
        for principal in principals.principals:
            subjects = [subject_from_facts(v.compiled, principal.facts) for v in (base, new)]
            accesses = (
                access(base.compiled, subjects[0], kind, action),
                access(new.compiled, subjects[1], kind, action),
            )
            # Principals the two policies see alike share one search.
            key = (principal.facts.authenticated, subjects[0].roles, subjects[1].roles)
            comparison = seen.get(key)
            if comparison is None:
                comparison = compare(
                    base.compiled, new.compiled, principal.facts, kind, action, accesses, budget
                )
                seen[key] = comparison
            change = _change(base, new, kind, action, principal, accesses, comparison)
            if change is None:
                continue
            group: tuple[object, ...] = (kind, action, change.effect, change.base, change.new)
            grouped.setdefault(group, []).append(principal)
            found.setdefault(group, (change, comparison))
    for group, members in grouped.items():
        change, _ = found[group]
        result.changes.append(
            Change(
                change.kind,
                change.action,
                change.effect,
                tuple(p.label for p in members),
                change.base,
                change.new,
                change.widening,
                change.narrowing,
                change.unknown,
            )
        )
    return result


def _change(
    base: Version,
    new: Version,
    kind: str,
    action: str,
    principal: Principal,
    accesses: tuple[Access, Access],
    comparison: Comparison,
) -> Change | None:
    if comparison.unknown is not None:
        effect = "unknown"
    elif comparison.widening is not None and comparison.narrowing is not None:
        effect = "both"
    elif comparison.widening is not None:
        effect = "widen"
    elif comparison.narrowing is not None:
        effect = "narrow"
    else:
        return None
    sides = [
        Side(acc.text(), tuple(_cite(a.rule, a.chain, v) for a in acc.rules))
        for acc, v in zip(accesses, (base, new), strict=True)
    ]
    return Change(
        kind,
        action,
        effect,
        (principal.label,),
        sides[0],
        sides[1],
        comparison.widening,
        comparison.narrowing,
        comparison.unknown,
    )


def _cite(rule: Rule, chain: tuple[str, ...], version: Version) -> str:
    via = f" via {' -> '.join(chain)}" if chain else ""
    return f"{rule.id} ({_at(rule.position, version)}){via}"


def _at(position: Position, version: Version) -> str:
    return f"{version.display(position.file)}:{position.line}"


class _Placed(Protocol):
    @property
    def position(self) -> Position: ...


_P = TypeVar("_P", bound=_Placed)


def _matched(
    old: Mapping[str, _P], now: Mapping[str, _P], base: Version, new: Version
) -> Iterator[tuple[str, _P | None, _P | None, str | None, str | None]]:
    """Each name either version declares, sorted: its entry and place in BASE and in NEW
    (None where that version lacks it)."""
    for name in sorted(old.keys() | now.keys()):
        before, after = old.get(name), now.get(name)
        b_at = _at(before.position, base) if before is not None else None
        n_at = _at(after.position, new) if after is not None else None
        yield name, before, after, b_at, n_at


# -- structure --------------------------------------------------------------------------------


def structure_changes(base: Version, new: Version) -> list[StructureChange]:
    out: list[StructureChange] = []
    out += _files(base, new)
    out += _roles(base, new)
    out += _resources(base, new)
    out += _rules(base, new)
    out += _lint(base, new)
    return out


def _files(base: Version, new: Version) -> list[StructureChange]:
    before = {base.relative(f): f for f in base.compiled.policy.files}
    after = {new.relative(f): f for f in new.compiled.policy.files}
    out = [
        StructureChange("file", f"file {name} added", new_at=new.display(after[name]))
        for name in sorted(after.keys() - before.keys())
    ]
    out += [
        StructureChange("file", f"file {name} removed", base_at=base.display(before[name]))
        for name in sorted(before.keys() - after.keys())
    ]
    return out


def _added_removed(
    topic: str,
    what: str,
    before: Iterable[str],
    after: Iterable[str],
    base_at: str | None,
    new_at: str | None,
) -> list[StructureChange]:
    old, now = set(before), set(after)
    out = [StructureChange(topic, f"{what} + {n}", base_at, new_at) for n in sorted(now - old)]
    out += [StructureChange(topic, f"{what} - {n}", base_at, new_at) for n in sorted(old - now)]
    return out


def _roles(base: Version, new: Version) -> list[StructureChange]:
    old, now = base.compiled.policy.roles, new.compiled.policy.roles
    out: list[StructureChange] = []
    for name, before, after, b_at, n_at in _matched(old, now, base, new):
        if before is None or after is None:
            verb = "added" if before is None else "removed"
            out.append(StructureChange("role", f"role {name} {verb}", b_at, n_at))
        out += _added_removed(
            "role",
            f"role {name} granted_to",
            (str(s) for s in (before.granted_to if before else ())),
            (str(s) for s in (after.granted_to if after else ())),
            b_at,
            n_at,
        )
        out += _added_removed(
            "role",
            f"role {name} inherits",
            before.inherits if before else (),
            after.inherits if after else (),
            b_at,
            n_at,
        )
    return out


def _resources(base: Version, new: Version) -> list[StructureChange]:
    old, now = base.compiled.policy.resources, new.compiled.policy.resources
    out: list[StructureChange] = []
    for name, before, after, b_at, n_at in _matched(old, now, base, new):
        if before is None or after is None:
            verb = "added" if before is None else "removed"
            out.append(StructureChange("resource", f"resource kind {name} {verb}", b_at, n_at))
        out += _added_removed(
            "resource",
            f"resource {name} actions",
            before.actions if before else (),
            after.actions if after else (),
            b_at,
            n_at,
        )
        if before is None or after is None:
            continue
        for attr in sorted(before.attributes.keys() & after.attributes.keys()):
            a, b = before.attributes[attr], after.attributes[attr]
            if (a.type, a.field or attr) != (b.type, b.field or attr):
                out.append(
                    StructureChange(
                        "resource",
                        f"attribute {name}.{attr}: {a.type} from {a.field or attr}"
                        f" -> {b.type} from {b.field or attr}",
                        _at(a.position, base),
                        _at(b.position, new),
                    )
                )
        out += _added_removed(
            "resource",
            f"resource {name} attributes",
            before.attributes,
            after.attributes,
            b_at,
            n_at,
        )
    return out


def _rule_shape(rule: Rule) -> dict[str, str]:
    return {
        "effect": rule.effect,
        "subjects": ", ".join(sorted(rule.subjects)),
        "actions": ", ".join(sorted(rule.actions)),
        "resource": rule.resource,
        "when": conditions.to_text(rule.when.tree) if rule.when is not None else "(always)",
    }


def _rules(base: Version, new: Version) -> list[StructureChange]:
    old = {r.id: r for r in base.compiled.policy.rules}
    now = {r.id: r for r in new.compiled.policy.rules}
    out: list[StructureChange] = []
    for rule_id, before, after, b_at, n_at in _matched(old, now, base, new):
        if before is None or after is None:
            rule = after or before
            assert rule is not None
            verb = "added" if before is None else "removed"
            out.append(StructureChange("rule", f"{rule.effect} rule {rule_id} {verb}", b_at, n_at))
            continue
        was, now_shape = _rule_shape(before), _rule_shape(after)
        for part, value in was.items():
            if now_shape[part] != value:
                what = f"rule {rule_id} {part}: {value} -> {now_shape[part]}"
                out.append(StructureChange("rule", what, b_at, n_at))
    return out


def _lint(base: Version, new: Version) -> list[StructureChange]:
    old = set(base.compiled.policy.destructive_actions)
    now = set(new.compiled.policy.destructive_actions)
    out = [
        StructureChange("lint", f"lint destructive_actions - {name}", relaxes=True)
        for name in sorted(old - now)
    ]
    out += [
        StructureChange("lint", f"lint destructive_actions + {name}") for name in sorted(now - old)
    ]
    return out


def version(
    label: str, compiled: CompiledPolicy, root: Path | None, prefix: str = "", alias: str = ""
) -> Version:
    """A version whose files are named relative to ``root`` (a policy directory, or a
    temporary copy of the repository), shown as ``prefix`` + that name. ``alias`` names
    a version read from one file, so that BASE and NEW files match whatever their names."""

    def relative(name: str) -> str:
        if alias:
            return alias
        if root is None:
            return Path(name).name
        try:
            return Path(name).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return Path(name).name

    def display(name: str) -> str:
        return prefix + relative(name) if prefix else name

    return Version(label, compiled, display, relative)


def empty_policy(files: Sequence[str] = ()) -> Policy:
    """A policy that declares nothing (a version before the policy existed)."""
    return Policy(roles={}, resources={}, rules=(), routes={}, files=tuple(files))
