"""When group membership can be left unread: ``CompiledPolicy.groups_could_change``.

The guard decides first with the roles that need no query (authenticated, staff,
superuser) and reads the user's groups only when they could change the outcome. The
property test in ``test_policy_properties.py`` checks the rule on random policies; these
cases pin each branch of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from authzguard.policy import CompiledPolicy, Resource, Subject, compile_policy, load_policy

BASE = """\
version: 1
roles:
  team:
    granted_to: [{group: team}]
  lead:
    inherits: [team]
    granted_to: [staff]
resources:
  doc:
    actions: [read, update, delete, archive]
    attributes:
      owner: {type: key}
      tenant: {type: str}
      region: {type: str}
      blob: {type: any}
rules:
  - id: own
    effect: allow
    subjects: [authenticated]
    actions: [read, update, delete, archive]
    resource: doc
    when: resource.owner == subject.id
  - id: team-read
    effect: allow
    subjects: [team]
    actions: [read]
    resource: doc
    when: resource.region == 'eu'
  - id: team-update
    effect: allow
    subjects: [team]
    actions: [update]
    resource: doc
    when: resource.blob == 1
  - id: team-no-delete
    effect: deny
    subjects: [team]
    actions: [delete]
    resource: doc
  - id: locked
    effect: deny
    subjects: ["*"]
    actions: [read, update, delete, archive]
    resource: doc
    when: resource.tenant == 'locked'
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    path: Path = tmp_path_factory.mktemp("groups") / "p.yaml"
    path.write_text(BASE)
    return compile_policy(load_policy([path]))


def owner(policy: CompiledPolicy, *, staff: bool = False, groups: tuple[str, ...] = ()) -> Subject:
    roles = policy.direct_roles(authenticated=True, staff=staff, groups=groups)
    return Subject(id=7, username="ann", roles=roles, authenticated=True)


def ask(policy: CompiledPolicy, subject: Subject, action: str, **attrs: object) -> bool:
    resource = Resource("doc", attrs)
    decision = policy.decide(subject, action, resource)
    return policy.groups_could_change(decision, subject, action, resource)


def test_allow_stands_when_group_rules_only_allow_and_read_present_attributes(
    policy: CompiledPolicy,
) -> None:
    assert not ask(policy, owner(policy), "read", owner=7, tenant="t2", region="us")


def test_allow_needs_groups_when_a_group_rule_could_fail_on_an_absent_attribute(
    policy: CompiledPolicy,
) -> None:
    # team-read reads resource.region: absent, it fails, and a failure denies.
    assert ask(policy, owner(policy), "read", owner=7, tenant="t2")
    assert ask(policy, owner(policy), "read", owner=7, tenant="t2", region=None)


def test_allow_needs_groups_when_a_group_rule_reads_an_any_attribute(
    policy: CompiledPolicy,
) -> None:
    assert ask(policy, owner(policy), "update", owner=7, tenant="t1", blob=1)


def test_allow_needs_groups_when_a_group_role_is_denied_the_action(
    policy: CompiledPolicy,
) -> None:
    assert ask(policy, owner(policy), "delete", owner=7, tenant="t1")


def test_a_deny_by_rule_stands_whatever_the_groups(policy: CompiledPolicy) -> None:
    assert not ask(policy, owner(policy), "read", owner=7, tenant="locked", region="eu")


def test_a_failed_condition_stands_whatever_the_groups(policy: CompiledPolicy) -> None:
    # own reads resource.owner, which is absent: the request is denied with an error.
    resource = Resource("doc", {"tenant": "t1", "region": "eu"})
    subject = owner(policy)
    decision = policy.decide(subject, "read", resource)
    assert not decision.allowed and decision.error is not None
    assert not policy.groups_could_change(decision, subject, "read", resource)


def test_no_match_needs_groups(policy: CompiledPolicy) -> None:
    # Not the owner: only a team rule could allow.
    assert ask(policy, owner(policy), "read", owner=8, tenant="t1", region="eu")


def test_pairs_no_group_role_reaches_never_need_groups(policy: CompiledPolicy) -> None:
    assert not policy.groups_matter("doc", "archive")
    assert not ask(policy, owner(policy), "archive", owner=8, tenant="t1")


def test_roles_granted_without_groups_count_as_present(policy: CompiledPolicy) -> None:
    """A staff lead already holds team (inherited): the team rules are decided with it."""
    lead = owner(policy, staff=True)
    resource = Resource("doc", {"owner": 8, "tenant": "t1", "region": "eu"})
    decision = policy.decide(lead, "read", resource)
    assert decision.allowed and decision.rule == "team-read"
    assert not policy.groups_could_change(decision, lead, "read", resource)


def test_the_answer_matches_deciding_with_the_group(policy: CompiledPolicy) -> None:
    member_roles = policy.direct_roles(authenticated=True, groups=("team",))
    for action, attrs in [
        ("read", {"owner": 7, "tenant": "t2", "region": "us"}),
        ("read", {"owner": 7, "tenant": "locked", "region": "eu"}),
        ("read", {"owner": 8, "tenant": "t1", "region": "eu"}),
        ("read", {"owner": 7, "tenant": "t1"}),
        ("delete", {"owner": 7, "tenant": "t1"}),
    ]:
        resource = Resource("doc", attrs)
        without = owner(policy)
        decision = policy.decide(without, action, resource)
        full = Subject(id=7, username="ann", roles=member_roles, authenticated=True)
        with_groups = policy.decide(full, action, resource)
        could_change = policy.groups_could_change(decision, without, action, resource)
        if not could_change:
            assert decision.allowed == with_groups.allowed, (action, attrs)
        # Each "could change" case here does change: the rule is not merely cautious.
        assert could_change == (decision.allowed != with_groups.allowed), (action, attrs)


LISTS = """\
version: 1
roles:
  team:
    granted_to: [{group: team}]
resources:
  doc:
    actions: [read]
    attributes:
      owner: {type: key}
      editors: {type: list}
rules:
  - id: own
    effect: allow
    subjects: [authenticated]
    actions: [read]
    resource: doc
    when: resource.owner == subject.id
  - id: team-editors
    effect: allow
    subjects: [team]
    actions: [read]
    resource: doc
    when: subject.id in resource.editors
"""


class Touchy:
    """A list element whose comparison fails (as some array types' do)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("ambiguous comparison")

    __hash__ = object.__hash__


def test_a_list_of_plain_values_cannot_fail_but_other_elements_might(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(LISTS)
    policy = compile_policy(load_policy([path]))
    subject = owner(policy)
    plain = Resource("doc", {"owner": 7, "editors": [1, "x", True, 2.5, None]})
    decision = policy.decide(subject, "read", plain)
    assert decision.allowed
    assert not policy.groups_could_change(decision, subject, "read", plain)

    touchy = Resource("doc", {"owner": 7, "editors": [Touchy()]})
    decision = policy.decide(subject, "read", touchy)
    assert decision.allowed
    assert policy.groups_could_change(decision, subject, "read", touchy)
    # Rightly: with the group the team rule applies, and its comparison fails.
    member = owner(policy, groups=("team",))
    assert not policy.decide(member, "read", touchy).allowed


SUBCLASSES = """\
version: 1
roles:
  team:
    granted_to: [{group: team}]
resources:
  doc:
    actions: [read]
    attributes:
      owner: {type: key}
      region: {type: str}
      editors: {type: list}
rules:
  - id: own
    effect: allow
    subjects: [authenticated]
    actions: [read]
    resource: doc
    when: resource.owner == subject.id
  - id: team-read
    effect: allow
    subjects: [team]
    actions: [read]
    resource: doc
    when: resource.region == 'eu' or subject.id in resource.editors
"""


class TouchyText(str):
    """Passes the ``str`` type check, but compares by code of its own, which fails."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("ambiguous comparison")

    __hash__ = str.__hash__


class GuardedList(list):  # type: ignore[type-arg]
    """Passes the ``list`` type check, but its membership test fails."""

    def __contains__(self, item: object) -> bool:
        raise ValueError("no membership test")


@pytest.mark.parametrize(
    "attrs",
    [
        {"owner": 7, "region": TouchyText("us"), "editors": [1, 2]},
        {"owner": 7, "region": "us", "editors": GuardedList([1, 2])},
    ],
    ids=["str-subclass", "list-subclass"],
)
def test_values_of_a_subclass_need_the_groups(tmp_path: Path, attrs: dict[str, object]) -> None:
    """Without the group the owner is allowed; with it the team rule's condition fails,
    which denies. Only exact plain types let the groups go unread."""
    path = tmp_path / "p.yaml"
    path.write_text(SUBCLASSES)
    policy = compile_policy(load_policy([path]))
    subject = owner(policy)
    resource = Resource("doc", attrs)
    decision = policy.decide(subject, "read", resource)
    assert decision.allowed
    assert policy.groups_could_change(decision, subject, "read", resource)
    member = owner(policy, groups=("team",))
    assert not policy.decide(member, "read", resource).allowed
    plain = Resource("doc", {"owner": 7, "region": "us", "editors": [1, 2]})
    decision = policy.decide(subject, "read", plain)
    assert decision.allowed and not policy.groups_could_change(decision, subject, "read", plain)
