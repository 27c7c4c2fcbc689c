"""The pre-lookup subject check never refuses what the policy would allow.

``CompiledPolicy.could_allow`` lets the guard deny before looking the target up; it is only sound
if, for every request, ``decide(...).allowed`` implies ``could_allow(...)``. Checked on
random policies and requests (the generator the policy-core property tests use).
"""

from __future__ import annotations

import random
from pathlib import Path

from authzguard.policy import compile_policy, load_policy
from tests.policy_gen import RandomDraw, generate_policy, generate_request, write_policy


def test_could_allow_is_implied_by_every_allow(tmp_path: Path) -> None:
    rng = random.Random(20261122)
    allowed = refused_early = 0
    for index in range(60):
        draw = RandomDraw(rng)
        generated = generate_policy(draw)
        directory = tmp_path / str(index)
        directory.mkdir()
        policy = compile_policy(load_policy([write_policy(generated, directory)]))
        for _ in range(80):
            subject, action, resource = generate_request(draw, generated).authzguard()
            early = policy.could_allow(subject, action, resource.kind)
            if policy.decide(subject, action, resource).allowed:
                allowed += 1
                assert early, (generated.text, subject, action, resource)
            elif not early:
                refused_early += 1
    # The property is not vacuous: both sides occur often.
    assert allowed > 100 and refused_early > 100


def test_skipping_groups_never_changes_a_decision(tmp_path: Path) -> None:
    """When ``groups_matter`` is False, group-granted roles cannot change the decision."""
    from dataclasses import replace

    rng = random.Random(7)
    skipped = 0
    for index in range(60):
        draw = RandomDraw(rng)
        generated = generate_policy(draw)
        directory = tmp_path / str(index)
        directory.mkdir()
        policy = compile_policy(load_policy([write_policy(generated, directory)]))
        group_roles = {
            role.name
            for role in policy.policy.roles.values()
            if any(source.kind == "group" for source in role.granted_to)
        }
        if not group_roles:
            continue
        for _ in range(80):
            subject, action, resource = generate_request(draw, generated).authzguard()
            if policy.groups_matter(resource.kind, action):
                continue
            skipped += 1
            without = replace(subject, roles=subject.roles - group_roles)
            full = policy.decide(subject, action, resource)
            assert policy.decide(without, action, resource).allowed == full.allowed, (
                generated.text,
                subject,
                action,
                resource,
            )
    assert skipped > 100
