"""The indexed evaluator keeps nothing per request: deciding leaves the policy as compiled."""

from __future__ import annotations

import random
from pathlib import Path

from authzguard.policy import CompiledPolicy, Resource, Subject, compile_policy, load_policy

ROLES = [f"r{i}" for i in range(40)]


def _policy(tmp_path: Path) -> CompiledPolicy:
    rng = random.Random(7)
    lines = ["version: 1", "roles:"]
    for i, role in enumerate(ROLES):
        parents = rng.sample(ROLES[:i], min(i, 2)) if i % 2 else []
        lines.append(
            f"  {role}: {{inherits: [{', '.join(parents)}]}}" if parents else f"  {role}: {{}}"
        )
    lines += ["resources:", "  doc: {actions: [read, edit], attributes: {owner: key}}", "rules:"]
    for i in range(300):
        subjects = ", ".join(rng.sample([*ROLES, "'*'", "authenticated"], 2))
        effect = "deny" if i % 9 == 0 else "allow"
        when = ", when: resource.owner == subject.id" if i % 3 else ""
        lines.append(
            f"  - {{id: x{i}, effect: {effect}, subjects: [{subjects}], actions: [read],"
            f" resource: doc{when}}}"
        )
    path = tmp_path / "p.yaml"
    path.write_text("\n".join(lines) + "\n")
    return compile_policy(load_policy([path]))


def _state(compiled: CompiledPolicy) -> dict[str, tuple[int, int | None]]:
    return {
        name: (id(value), len(value) if hasattr(value, "__len__") else None)
        for name in CompiledPolicy.__slots__
        if (value := getattr(compiled, name)) is not None
    }


def test_deciding_for_thousands_of_role_sets_changes_nothing(tmp_path: Path) -> None:
    compiled = _policy(tmp_path)
    before = _state(compiled)
    rng = random.Random(1)
    for i in range(5_000):
        roles = frozenset(rng.sample(ROLES, rng.randrange(4)))
        subject = Subject(id=i % 7, roles=roles, authenticated=bool(i % 5))
        resource = Resource("doc", {"owner": i % 7})
        compiled.decide(subject, "read", resource)
        compiled.could_allow(subject, "read", "doc")
        compiled.effective_roles(subject)
        compiled.direct_roles(authenticated=True, staff=bool(i % 2))
    assert _state(compiled) == before
