"""Property tests: ``decide`` equals an independent reading of the spec, and stock Casbin.

Random valid policies (roles with inheritance DAGs and sources, resource kinds with typed
attributes, rules with conditions from the whole grammar and awkward string literals)
are written as YAML files, loaded and compiled by authzguard, compiled to Casbin files
by ``authzguard compile``, and asked random requests. Every answer must agree.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from authzguard.enforcer import load_files, with_casbin
from authzguard.policy import compile_policy, load_policy
from authzguard.policy.explain import explain
from authzguard.policy.model import Resource, Subject
from tests import policy_reference as reference
from tests.policy_gen import (
    GROUP_NAMES,
    HypothesisDraw,
    Options,
    compile_files,
    generate_policy,
    generate_request,
    stock_allows,
    subset,
    write_policy,
)

pytestmark = pytest.mark.property

# The number of examples comes from the Hypothesis profile (tests/conftest.py).
PROPERTY_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)


def user_facts(draw: HypothesisDraw, authenticated: bool) -> dict[str, Any]:
    """What a Django user brings besides groups: signed in, superuser, staff."""
    return {
        "authenticated": authenticated,
        "superuser": authenticated and draw.chance(30),
        "staff": authenticated and draw.chance(30),
    }


@PROPERTY_SETTINGS
@given(st.data())
def test_decide_equals_the_reference_reading_and_stock_casbin(data: st.DataObject) -> None:
    draw = HypothesisDraw(data)
    generated = generate_policy(draw)
    note(generated.text)
    with tempfile.TemporaryDirectory(prefix="authzguard-prop-") as tmp:
        path = write_policy(generated, Path(tmp))
        policy = load_policy([path])
        compiled = compile_policy(policy)
        casbin_engine = with_casbin(compiled)
        stock = load_files(*compile_files(path, Path(tmp) / "casbin"))
        raw = reference.read_policy_data(path)

        # The strict loader reads every condition exactly as a plain YAML reader does.
        assert [r.when.source if r.when else None for r in policy.rules] == [
            r.get("when") for r in raw["rules"]
        ]

        for _ in range(draw.integer(1, 6)):
            request = generate_request(draw, generated)
            note(repr(request))
            args = (raw, request.subject, request.action, request.kind, request.attributes)
            expected = reference.decide(*args)
            decision = compiled.decide(*request.authzguard())
            assert decision.allowed == expected.allowed, (decision, expected)
            if expected.allowed or not expected.errors:
                # The first allow rule in file order, or the deny rule that decided.
                assert decision.rule == expected.rule, (decision, expected)
            if decision.allowed:
                assert decision.error is None
            assert casbin_engine.decide(*request.authzguard()).allowed == expected.allowed
            # explain shows each applicable rule's part as the reference finds it.
            steps = explain(compiled, *request.authzguard()).steps
            untyped = reference.decide(*args, check_types=False)
            assert [s.rule.id for s in steps if s.outcome == "matched"] == list(untyped.held)
            assert [s.rule.id for s in steps if s.outcome == "condition-error"] == list(
                untyped.errors
            )
            # Stock Casbin reads the compiled files, which carry no declared types: on a
            # well-typed request it answers as authzguard does, on any request as the
            # spec does without the type check.
            assert (
                stock_allows(stock, request) == reference.decide(*args, check_types=False).allowed
            )


@PROPERTY_SETTINGS
@given(st.data())
def test_well_typed_requests_follow_the_strict_reading(data: st.DataObject) -> None:
    """With values of their declared types, Python's operators and the spec's words agree.

    The subjects here are Django users described by their facts (superuser, staff,
    groups): their roles come from ``granted_to``, read independently.
    """
    draw = HypothesisDraw(data)
    generated = generate_policy(draw, Options(well_typed=True))
    note(generated.text)
    with tempfile.TemporaryDirectory(prefix="authzguard-prop-") as tmp:
        path = write_policy(generated, Path(tmp))
        compiled = compile_policy(load_policy([path]))
        raw = reference.read_policy_data(path)
    for _ in range(draw.integer(1, 10)):
        request = generate_request(draw, generated)
        authenticated = request.subject.authenticated
        facts = {
            **user_facts(draw, authenticated),
            "groups": subset(draw, [*GROUP_NAMES, "unknown"], 0, 3) if authenticated else [],
        }
        roles = compiled.direct_roles(**facts)
        assert roles == reference.granted_roles(raw, **facts)
        subject = dataclasses.replace(request.subject, roles=roles)
        request = dataclasses.replace(request, subject=subject)
        note(repr(request))
        assert compiled.effective_roles(request.authzguard()[0]) == reference.effective_roles(
            raw, subject
        )
        strict = reference.decide(
            raw, subject, request.action, request.kind, request.attributes, strict=True
        )
        assert compiled.decide(*request.authzguard()).allowed == strict.allowed


# -- the corners of Python's operators, reachable through ``any`` only ------------------

CORNERS = """\
version: 1
resources:
  doc:
    actions: [read]
    attributes:
      editors: {editors}
      flag: {flag}
      n: {n}
rules:
  - id: editors-read
    effect: allow
    subjects: [authenticated]
    actions: [read]
    resource: doc
    when: subject.username in resource.editors
  - id: unflagged-read
    effect: allow
    subjects: [anonymous]
    actions: [read]
    resource: doc
    when: not resource.flag
  - id: number-one-read
    effect: allow
    subjects: ["*"]
    actions: [read]
    resource: doc
    when: resource.n == 1
"""
ANY = {"editors": "any", "flag": "any", "n": "any"}
TYPED = {"editors": "list", "flag": "bool", "n": "int"}

ALI = Subject(id=3, username="ali", authenticated=True)
BOB = Subject(id=2, username="bob", authenticated=True)
ANONYMOUS = Subject.anonymous()


def answers(tmp_path: Path, types: dict[str, str], subject: Subject, **attrs: object) -> tuple:
    """(engine, reference, strict reference) answers to reading a doc."""
    text = CORNERS.format(**types)
    path = tmp_path / "corners.yaml"
    path.write_text(text, encoding="utf-8")
    compiled = compile_policy(load_policy([path]))
    raw = yaml.safe_load(text)
    ref_subject = reference.RefSubject(
        subject.roles, subject.authenticated, subject.id, subject.username
    )
    return (
        compiled.decide(subject, "read", Resource("doc", attrs)).allowed,
        reference.decide(raw, ref_subject, "read", "doc", attrs).allowed,
        reference.decide(raw, ref_subject, "read", "doc", attrs, strict=True).allowed,
    )


@pytest.mark.parametrize("types", [ANY, TYPED], ids=["any", "typed"])
def test_values_of_the_intended_type_read_the_same_either_way(
    tmp_path: Path, types: dict[str, str]
) -> None:
    assert answers(tmp_path, types, BOB, editors=["alice", "bob"], n=2) == (True,) * 3
    assert answers(tmp_path, types, ALI, editors=["alice", "bob"], n=2) == (False,) * 3
    assert answers(tmp_path, types, ANONYMOUS, flag=False, n=2) == (True,) * 3
    assert answers(tmp_path, types, ANONYMOUS, flag=True, n=2) == (False,) * 3
    assert answers(tmp_path, types, ANONYMOUS, flag=True, n=1) == (True,) * 3
    # An absent attribute read by an applicable rule denies, whatever the others say.
    assert answers(tmp_path, types, ANONYMOUS, n=1) == (False,) * 3


@pytest.mark.parametrize(
    ("subject", "attrs"),
    [
        (ALI, {"editors": "alice,bob", "n": 2}),  # 'ali' in 'alice,bob'
        (ANONYMOUS, {"n": True, "flag": True}),  # true == 1
        (ANONYMOUS, {"flag": "", "n": 2}),  # not ''
    ],
    ids=["substring", "true-is-1", "not-empty-string"],
)
def test_any_values_compare_as_python_does_declared_types_deny(
    tmp_path: Path, subject: Subject, attrs: dict[str, object]
) -> None:
    # As the spec says: an ``any`` attribute follows Python (allowed here, where the
    # words of the condition table alone would deny)...
    assert answers(tmp_path, ANY, subject, **attrs) == (True, True, False)
    # ...and a declared type refuses the value before any rule is read.
    assert answers(tmp_path, TYPED, subject, **attrs) == (False, False, False)


# -- leaving group membership unread -------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.data())
def test_a_decision_groups_cannot_change_is_the_decision_with_groups(
    data: st.DataObject,
) -> None:
    """``groups_could_change`` says False only when every group set gives the same outcome.

    The guard decides first without group-granted roles and reads group membership only
    when this says it could matter; here the answer is checked against deciding again
    with random group sets (and with every group the policy names).
    """
    draw = HypothesisDraw(data)
    generated = generate_policy(draw, Options(well_typed=draw.chance(50)))
    note(generated.text)
    with tempfile.TemporaryDirectory(prefix="authzguard-prop-") as tmp:
        compiled = compile_policy(load_policy([write_policy(generated, Path(tmp))]))
    # The guard may decide through pycasbin (AUTHZGUARD_ENGINE = "casbin"): on well-typed
    # requests its answers are the indexed engine's, so the same rule holds for it.
    engines = [compiled, with_casbin(compiled)] if generated.options.well_typed else [compiled]
    for _ in range(draw.integer(1, 8)):
        request = generate_request(draw, generated)
        authenticated = request.subject.authenticated
        facts = user_facts(draw, authenticated)
        without = dataclasses.replace(
            request.subject, roles=compiled.direct_roles(**facts, groups=())
        )
        subject, action, resource = dataclasses.replace(request, subject=without).authzguard()
        group_sets = [list(generated.groups)] + [
            subset(draw, [*generated.groups, "unknown"], 0, 3) for _ in range(3)
        ]
        for engine in engines:
            decision = engine.decide(subject, action, resource)
            could_change = engine.groups_could_change(decision, subject, action, resource)
            note(f"{request!r}: {decision} could_change={could_change}")
            if could_change:
                continue
            for groups in group_sets:
                roles = compiled.direct_roles(**facts, groups=groups if authenticated else ())
                full = dataclasses.replace(subject, roles=roles)
                again = engine.decide(full, action, resource)
                assert again.allowed == decision.allowed, (groups, decision, again)
