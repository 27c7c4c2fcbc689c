"""Inheritance too large to tabulate: decisions stay the reference's (issue 11, item 3).

Within a budget linear in the policy, the index tabulates each role's rules together
with the rules of every role it inherits (per kind and action), and the inheritance
path from each role to each role it inherits. The generated worst cases here exceed it
(many roles inheriting one role that inherits many; many roles inheriting a role that
many rules name), so a decision reads the rules of each held role and walks the graph.
It must answer as the reference reading of the spec does, with the shortest chain.
"""

from __future__ import annotations

import random
from pathlib import Path

from authzguard.policy import compile_policy, load_policy
from authzguard.policy import roles as role_graph
from authzguard.policy.index import holders, table_budget
from authzguard.policy.model import Policy, Resource, Subject
from tests import policy_reference as reference

ACTIONS = ("read", "edit", "share", "delete", "export")


def _write(tmp_path: Path, roles: list[str], kinds: int, rules: list[str]) -> Path:
    lines = ["version: 1", "roles:", *roles, "resources:"]
    for k in range(kinds):
        lines += [f"  kind{k}:", f"    actions: [{', '.join(ACTIONS)}]"]
        lines += ["    attributes: {owner: key}"]
    path = tmp_path / "policy.yaml"
    path.write_text("\n".join([*lines, "rules:", *rules]) + "\n")
    return path


def _agrees_with_reference(path: Path, grantable: list[str], kinds: int, n: int) -> int:
    """Decide ``n`` seeded requests; check each against the reference. Returns how many
    were decided through an inherited role."""
    policy = load_policy([path])
    compiled = compile_policy(policy)
    raw = reference.read_policy_data(path)
    paths = role_graph.shortest_paths(policy.roles, role_graph.closures(policy.roles), 10**9)
    assert paths is not None
    rng = random.Random(11)
    inherited = 0
    for i in range(n):
        roles = frozenset(rng.sample(grantable, rng.randrange(4)))
        uid, owner = rng.randrange(3), rng.randrange(3)
        action, kind = rng.choice(ACTIONS), f"kind{rng.randrange(kinds)}"
        subject = Subject(id=uid, roles=roles, authenticated=bool(i % 7))
        decision = compiled.decide(subject, action, Resource(kind, {"owner": owner}))
        ref_subject = reference.RefSubject(roles, bool(i % 7), uid)
        expected = reference.decide(raw, ref_subject, action, kind, {"owner": owner})
        assert (decision.allowed, decision.rule) == (expected.allowed, expected.rule), (
            subject,
            action,
            kind,
        )
        if len(decision.chain) > 1:
            inherited += 1
            start, target = decision.chain[0], decision.chain[-1]
            assert start in roles
            assert decision.chain == paths[(start, target)]
            # No granted role reaches a subject of the rule by a shorter path.
            rule = policy.rule(str(decision.rule))
            assert all(
                len(paths.get((r, s), decision.chain)) >= len(decision.chain)
                for r in roles
                for s in rule.subjects
            )
    return inherited


def _closed_size(policy: Policy) -> int:
    """Entries the per-role tables would hold: each rule's subject, and every role that
    inherits it, once per action."""
    by_role = holders(role_graph.closures(policy.roles), 10**9)
    assert by_role is not None
    return sum(
        len(rule.actions) * (1 + len(by_role.get(name, ())))
        for rule in policy.rules
        for name in rule.subjects
    )


def test_a_wide_hub_over_the_path_budget_decides_as_the_reference(tmp_path: Path) -> None:
    # hub inherits 300 roles; 600 teams inherit hub: 600 x 301 inherited roles in all.
    leaves = [f"leaf{i}" for i in range(300)]
    teams = [f"team{i}" for i in range(600)]
    roles = [f"  {name}: {{}}" for name in leaves]
    roles.append(f"  hub: {{inherits: [{', '.join(leaves)}]}}")
    roles += [f"  {name}: {{inherits: [hub]}}" for name in teams]
    rng = random.Random(5)
    rules = []
    for i in range(200):
        effect = "deny" if i % 6 == 0 else "allow"
        subject = rng.choice([*leaves[:20], "hub", *teams[:20], "authenticated"])
        when = ", when: resource.owner == subject.id" if i % 2 else ""
        rules.append(
            f"  - {{id: w{i}, effect: {effect}, subjects: [{subject}],"
            f" actions: [{rng.choice(ACTIONS)}], resource: kind{i % 4}{when}}}"
        )
    path = _write(tmp_path, roles, 4, rules)
    policy = load_policy([path])
    inherited = role_graph.closures(policy.roles)
    # The worst case this test is for: too many inherited roles to tabulate paths.
    assert sum(len(below) for below in inherited.values()) > table_budget(policy)
    assert role_graph.shortest_paths(policy.roles, inherited, table_budget(policy)) is None
    assert _agrees_with_reference(path, [*teams[:30], "hub", *leaves[:30]], 4, 400) > 20


def test_a_role_named_everywhere_over_the_table_budget_decides_as_the_reference(
    tmp_path: Path,
) -> None:
    # 2,000 teams inherit base (a third through one of the first 50), 150 rules name it.
    teams = [f"team{i}" for i in range(2000)]
    roles = ["  base: {}", "  other: {}"]
    roles += [
        f"  {name}: {{inherits: [{f'team{i % 50}' if i >= 50 and i % 3 == 0 else 'base'}]}}"
        for i, name in enumerate(teams)
    ]
    rules = []
    for i in range(300):
        subject = "base" if i % 2 else f"team{(i * 37) % 2000}"
        effect = "deny" if i % 11 == 0 else "allow"
        when = ", when: resource.owner == subject.id" if i % 3 else ""
        rules.append(
            f"  - {{id: t{i}, effect: {effect}, subjects: [{subject}, other],"
            f" actions: [{ACTIONS[i % 5]}], resource: kind{i % 30}{when}}}"
        )
    path = _write(tmp_path, roles, 30, rules)
    policy = load_policy([path])
    # The worst case this test is for: paths fit, the per-role tables would not.
    inherited = role_graph.closures(policy.roles)
    assert role_graph.shortest_paths(policy.roles, inherited, table_budget(policy)) is not None
    assert _closed_size(policy) > table_budget(policy)
    grantable = [*teams[:40], *teams[-40:], "base", "other"]
    assert _agrees_with_reference(path, grantable, 30, 400) >= 10


def test_walking_the_graph_finds_the_tabulated_paths(tmp_path: Path) -> None:
    rng = random.Random(3)
    names = [f"r{i}" for i in range(60)]
    roles = []
    for i, name in enumerate(names):
        # Eight layers of eight (at most 9 levels are allowed), each above the ones before.
        below = names[: i - i % 8]
        parents = rng.sample(below, min(len(below), rng.randrange(4)))
        roles.append(
            f"  {name}: {{inherits: [{', '.join(parents)}]}}" if parents else f"  {name}: {{}}"
        )
    rule = "  - {id: x, effect: allow, subjects: [r0], actions: [read], resource: kind0}"
    path = _write(tmp_path, roles, 1, [rule])
    policy = load_policy([path])
    inherited = role_graph.closures(policy.roles)
    paths = role_graph.shortest_paths(policy.roles, inherited, table_budget(policy))
    assert paths is not None and len(paths) == sum(len(b) for b in inherited.values())
    for start in names:
        for target in names:
            found = role_graph.path_between(policy.roles, inherited, start, target)
            expected = (start,) if start == target else paths.get((start, target))
            assert found == expected
