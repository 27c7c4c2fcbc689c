"""``decide``: the semantics, the reasons, and the process-wide current policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from authzguard import runtime
from authzguard.enforcer import with_casbin
from authzguard.exceptions import PolicyError
from authzguard.policy import Resource, Subject, compile_policy, load_policy
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.explain import explain

ROOT = Path(__file__).resolve().parent.parent

POLICY = """
version: 1
roles:
  admin: {granted_to: [superuser], inherits: [support]}
  support: {granted_to: [{group: helpdesk}], inherits: [staffer]}
  staffer: {granted_to: [staff]}
  guest: {granted_to: [anonymous]}
resources:
  ticket:
    actions: {read: {}, close: {}, delete: {}}
    attributes: {owner: key, status: str, tags: list}
rules:
  - {id: owner-reads, effect: allow, subjects: [authenticated], actions: [read], resource: ticket,
     when: resource.owner == subject.id}
  - {id: staff-reads, effect: allow, subjects: [staffer], actions: [read, close], resource: ticket}
  - {id: no-closing-frozen, effect: deny, subjects: ["*"], actions: [close], resource: ticket,
     when: resource.status == "frozen"}
  - {id: admin-deletes, effect: allow, subjects: [admin], actions: [delete], resource: ticket}
  - {id: guests-read-public, effect: allow, subjects: [guest], actions: [read], resource: ticket,
     when: '"public" in resource.tags'}
"""


@pytest.fixture
def compiled(tmp_path: Path) -> CompiledPolicy:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    return compile_policy(load_policy([path]))


def user(compiled: CompiledPolicy, uid: int, **facts: object) -> Subject:
    roles = compiled.direct_roles(
        authenticated=True,
        superuser=bool(facts.get("superuser")),
        staff=bool(facts.get("staff")),
        groups=list(facts.get("groups", [])),  # type: ignore[call-overload]
    )
    return Subject(id=uid, username=f"u{uid}", roles=roles, authenticated=True)


def ticket(**attrs: object) -> Resource:
    return Resource("ticket", {"owner": 1, "status": "open", "tags": [], **attrs})


def test_owner_and_role_chains(compiled: CompiledPolicy) -> None:
    owner, other = user(compiled, 1), user(compiled, 2)
    d = compiled.decide(owner, "read", ticket())
    assert (d.allowed, d.rule, d.chain) == (True, "owner-reads", ("authenticated",))
    assert not compiled.decide(other, "read", ticket())
    helpdesk = user(compiled, 3, groups=["helpdesk"])
    d = compiled.decide(helpdesk, "read", ticket())
    assert (d.allowed, d.rule, d.chain) == (True, "staff-reads", ("support", "staffer"))
    assert d.reason == "allowed by rule 'staff-reads' via support -> staffer"
    boss = user(compiled, 4, superuser=True)
    assert compiled.decide(boss, "delete", ticket()).chain == ("admin",)
    assert not compiled.decide(helpdesk, "delete", ticket())


def test_deny_overrides_allow(compiled: CompiledPolicy) -> None:
    staff = user(compiled, 5, staff=True)
    assert compiled.decide(staff, "close", ticket()).allowed
    d = compiled.decide(staff, "close", ticket(status="frozen"))
    assert (d.allowed, d.rule, d.reason) == (
        False,
        "no-closing-frozen",
        "denied by rule 'no-closing-frozen' via *",
    )


def test_nothing_matches_means_deny(compiled: CompiledPolicy) -> None:
    d = compiled.decide(user(compiled, 2), "close", ticket())
    assert (d.allowed, d.rule, d.reason) == (
        False,
        None,
        "denied: no rule matched 'close' on 'ticket'",
    )
    d = compiled.decide(user(compiled, 2), "fly", ticket())
    assert (d.allowed, d.reason) == (False, "denied: no rule grants 'fly' on 'ticket'")
    assert not compiled.decide(user(compiled, 2), "read", Resource("spaceship", {}))


def test_roles_are_typed_a_user_named_admin_is_not_the_role(compiled: CompiledPolicy) -> None:
    named_admin = Subject(id=9, username="admin", roles=frozenset(), authenticated=True)
    assert not compiled.decide(named_admin, "delete", ticket())
    assert compiled.direct_roles(authenticated=True, groups=["admin"]) == frozenset()


def test_anonymous_roles_and_absent_attributes_deny(compiled: CompiledPolicy) -> None:
    anon = Subject(roles=compiled.direct_roles(authenticated=False))
    assert anon.roles == frozenset({"guest"})
    d = compiled.decide(anon, "read", ticket(tags=["public"]))
    # The owner-reads rule does not apply to anonymous, so subject.id is never read.
    assert (d.allowed, d.rule) == (True, "guests-read-public")
    d = compiled.decide(user(compiled, 1), "read", Resource("ticket", {"status": "open"}))
    assert (d.allowed, d.error) == (False, "resource.owner is absent")
    # None is absence too: an ownerless ticket never matches an id-less subject.
    d = compiled.decide(Subject(authenticated=True), "read", ticket(owner=None))
    assert not d.allowed and d.error == "resource.owner is absent"


def test_an_error_in_any_applicable_rule_denies(compiled: CompiledPolicy) -> None:
    staff = user(compiled, 5, staff=True)
    # staff-reads would allow, but owner-reads also applies and cannot compare.
    d = compiled.decide(staff, "read", ticket(owner=None))
    assert (d.allowed, d.rule) == (False, None)
    assert "could not be evaluated" in d.reason


def test_decide_never_raises(compiled: CompiledPolicy) -> None:
    class Hostile(int):  # passes the type check as a key, then explodes on comparison
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("boom")

        __hash__ = int.__hash__

    d = compiled.decide(user(compiled, 1), "read", ticket(owner=Hostile(1)))
    assert not d.allowed and d.error is not None and "boom" in d.error


def test_values_of_the_wrong_type_deny_before_any_rule(compiled: CompiledPolicy) -> None:
    staff = user(compiled, 5, staff=True)
    for attrs, problem in [
        ({"tags": "public"}, "resource.tags is a str, not a list"),
        ({"owner": True}, "resource.owner is a bool, not a key"),
        ({"status": 3}, "resource.status is a int, not a str"),
    ]:
        d = compiled.decide(staff, "read", ticket(**attrs))
        assert (d.allowed, d.rule, d.error) == (False, None, problem)
    d = compiled.decide(Subject(id=1.5, authenticated=True), "read", ticket())
    assert d.error == "subject.id is a float, not a key"
    assert with_casbin(compiled).decide(staff, "read", ticket(tags="public")).error == (
        "resource.tags is a str, not a list"
    )


def test_casbin_engine_agrees_on_these_cases(compiled: CompiledPolicy) -> None:
    engine = with_casbin(compiled)
    subjects = [
        user(compiled, 1),
        user(compiled, 5, staff=True),
        user(compiled, 3, groups=["helpdesk"]),
        user(compiled, 4, superuser=True),
        Subject(roles=compiled.direct_roles(authenticated=False)),
    ]
    resources = [
        ticket(),
        ticket(status="frozen"),
        ticket(owner=None),
        ticket(tags=["public"]),
        ticket(owner=3),
    ]
    for s in subjects:
        for action in ("read", "close", "delete"):
            for r in resources:
                assert engine.decide(s, action, r).allowed == compiled.decide(s, action, r).allowed


def test_version_ignores_formatting_but_not_meaning(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    a.write_text(POLICY)
    b.write_text(
        "# reformatted\n"
        + POLICY.replace("resource.owner == subject.id", "(resource.owner)  ==  subject.id")
    )
    c.write_text(POLICY.replace('"frozen"', '"archived"'))
    va, vb, vc = (compile_policy(load_policy([p])).version for p in (a, b, c))
    assert va == vb != vc


def test_explain_shows_each_rule(compiled: CompiledPolicy) -> None:
    staff = user(compiled, 5, staff=True)
    result = explain(compiled, staff, "close", ticket(status="frozen"))
    outcomes = [(s.rule.id, s.outcome) for s in result.steps]
    assert outcomes == [("staff-reads", "matched"), ("no-closing-frozen", "matched")]
    text = "\n".join(result.lines())
    assert "decision: deny" in text and "rule: no-closing-frozen" in text


# -- the process-wide current policy -------------------------------------------------------


def test_runtime_loads_once_and_reloads_atomically(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    with override_settings(AUTHZGUARD_POLICY_PATHS=[path]):
        first = runtime.get_policy()
        assert runtime.get_policy() is first
        path.write_text(POLICY.replace('"frozen"', '"archived"'))
        assert runtime.get_policy() is first  # no implicit reload
        second = runtime.reload_policy()
        assert second is not first and runtime.get_policy() is second
        assert second.version != first.version
        path.write_text("version: 1\nrules: {oops: 1}\n")
        with pytest.raises(PolicyError):
            runtime.reload_policy()
        assert runtime.get_policy() is second  # a failed reload keeps the working policy


def test_runtime_without_a_policy_fails_closed(tmp_path: Path) -> None:
    with (
        override_settings(AUTHZGUARD_POLICY_PATHS=[]),
        pytest.raises(PolicyError, match="AUTHZGUARD_POLICY_PATHS is empty"),
    ):
        runtime.get_policy()
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - effect: maybe\n")
    with override_settings(AUTHZGUARD_POLICY_PATHS=[bad]):
        with pytest.raises(PolicyError) as first:
            runtime.get_policy()
        bad.write_text(POLICY)
        with pytest.raises(PolicyError) as again:
            runtime.get_policy()  # the failure is remembered, not re-read per request
        assert again.value is first.value
        assert runtime.reload_policy() is runtime.get_policy()


def test_runtime_engine_setting(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    with override_settings(AUTHZGUARD_POLICY_PATHS=[path], AUTHZGUARD_ENGINE="casbin"):
        policy = runtime.get_policy()
        d = policy.decide(user(policy, 1), "read", ticket())
        assert (d.allowed, d.rule) == (True, "owner-reads")
        assert "(casbin)" in d.reason
    with (
        override_settings(AUTHZGUARD_POLICY_PATHS=[path], AUTHZGUARD_ENGINE="fast"),
        pytest.raises(ValueError, match="AUTHZGUARD_ENGINE"),
    ):
        runtime.get_policy()


def test_top_level_decide_uses_the_current_policy_and_fails_closed(tmp_path: Path) -> None:
    import authzguard

    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    owner = Subject(id=1, roles=frozenset(), authenticated=True)
    with override_settings(AUTHZGUARD_POLICY_PATHS=[path]):
        assert authzguard.decide(owner, "read", ticket()).rule == "owner-reads"
    with override_settings(AUTHZGUARD_POLICY_PATHS=[tmp_path / "missing.yaml"]):
        d = authzguard.decide(owner, "read", ticket())
        assert (d.allowed, d.reason) == (False, "denied: no policy could be loaded")
        assert d.error is not None and "no such policy file" in d.error
