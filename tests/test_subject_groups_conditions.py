"""Conditions on ``subject.groups`` (issue 12.3): declared as a list of strings, read from
the same one query as the group-granted roles, and only where a rule could read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authzguard import subjects
from authzguard.cli import main
from authzguard.enforcer import with_casbin
from authzguard.policy import CompiledPolicy, compile_policy, lint_paths, load_policy
from authzguard.policy.model import Resource, Subject

POLICY = """\
version: 1
roles:
  desk: {granted_to: [{group: helpdesk}]}
resources:
  report:
    actions: [read, export, archive]
rules:
  - id: finance-reads
    effect: allow
    subjects: [authenticated]
    actions: [read]
    resource: report
    when: '"finance" in subject.groups'
  - id: no-interns-export
    effect: deny
    subjects: ["*"]
    actions: [export]
    resource: report
    when: '"interns" in subject.groups'
  - id: anyone-exports
    effect: allow
    subjects: [authenticated]
    actions: [export]
    resource: report
  - id: desk-archives
    effect: allow
    subjects: [desk]
    actions: [archive]
    resource: report
"""


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "groups.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def policy(policy_path: Path) -> CompiledPolicy:
    return compile_policy(load_policy([policy_path]))


def test_a_condition_on_groups_makes_them_read_for_its_pairs_only(
    tmp_path: Path, policy: CompiledPolicy
) -> None:
    assert policy.groups_matter("report", "read")
    assert policy.groups_matter("report", "export")
    assert policy.groups_matter("report", "archive")  # a group-granted role
    # Without any group-granted role, the condition alone is enough.
    alone = tmp_path / "alone.yaml"
    alone.write_text(POLICY.replace("  desk: {granted_to: [{group: helpdesk}]}", "  desk: {}"))
    compiled = compile_policy(load_policy([alone]))
    assert compiled.uses_groups
    assert compiled.groups_matter("report", "read") and compiled.groups_matter("report", "export")
    assert not compiled.groups_matter("report", "archive")


@pytest.mark.django_db
def test_the_subject_gets_its_groups_from_the_one_group_query(policy: CompiledPolicy) -> None:
    user = User.objects.create_user("fiona")
    user.groups.add(Group.objects.create(name="helpdesk"), Group.objects.create(name="finance"))
    fresh = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        subject = subjects.subject_for(fresh, policy, kind="report", action="read")
    assert len(queries) == 1
    assert subject.groups == ("finance", "helpdesk") and subject.roles == {"desk"}
    assert policy.decide(subject, "read", Resource("report")).allowed


@pytest.mark.django_db
def test_groups_are_left_unread_where_no_rule_could_read_them(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        POLICY.replace("actions: [read, export, archive]", "actions: [read, export, archive, list]")
    )
    compiled = compile_policy(load_policy([path]))
    fresh = User.objects.get(pk=User.objects.create_user("sam").pk)
    with CaptureQueriesContext(connection) as queries:
        subject = subjects.subject_for(fresh, compiled, kind="report", action="list")
    assert len(queries) == 0 and subject.groups is None
    anonymous = subjects.subject_for(None, compiled, kind="report", action="read")
    assert anonymous.groups == ()


@pytest.mark.django_db
def test_an_inactive_user_has_no_groups_a_condition_could_read(policy: CompiledPolicy) -> None:
    user = User.objects.create_user("ivan", is_active=False)
    user.groups.add(Group.objects.create(name="finance"))
    subject = subjects.subject_for(
        User.objects.get(pk=user.pk), policy, kind="report", action="read"
    )
    assert subject.groups is None
    assert not policy.decide(subject, "read", Resource("report")).allowed


@pytest.mark.parametrize("engine", ["indexed", "casbin"])
def test_decisions_on_groups_with_both_engines(policy: CompiledPolicy, engine: str) -> None:
    decider = policy if engine == "indexed" else with_casbin(policy)
    report = Resource("report")

    def decide(action: str, groups: tuple[str, ...] | None) -> bool:
        subject = Subject(id=1, authenticated=True, groups=groups)
        return decider.decide(subject, action, report).allowed

    assert decide("read", ("finance",)) and not decide("read", ("ops",))
    assert decide("export", ()) and not decide("export", ("interns", "ops"))
    # Unread groups are absent: a condition reading them denies, never allows.
    assert not decide("read", None) and not decide("export", None)
    unread = decider.decide(Subject(id=1, authenticated=True), "export", report)
    assert unread.error is not None
    # A string is not a list: never a substring test.
    assert not decide("read", "finance-team")  # type: ignore[arg-type]


def test_groups_could_change_a_decision_that_reads_them(policy: CompiledPolicy) -> None:
    subject = Subject(id=1, authenticated=True)
    decision = policy.decide(subject, "export", Resource("report"))
    assert policy.groups_could_change(decision, subject, "export", Resource("report"))


def test_lint_knows_subject_groups_as_a_list(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        POLICY.replace('"finance" in subject.groups', "subject.groups == 1").replace(
            '"interns" in subject.groups', 'subject.group == "x"'
        )
    )
    _, findings = lint_paths([str(path)])
    codes = sorted(f.code for f in findings if f.severity == "error")
    assert codes == ["AZ205", "AZ208"], [f.format() for f in findings]


def test_explain_takes_groups(policy_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "explain",
        str(policy_path),
        "--action",
        "read",
        "--resource",
        "report:",
        "--format",
        "json",
    ]
    assert main([*args, "--subject", "id=1,groups=finance+ops"]) == 0
    assert json.loads(capsys.readouterr().out)["allowed"] is True
    assert main([*args, "--subject", "id=1,groups=ops"]) == 0
    assert json.loads(capsys.readouterr().out)["allowed"] is False


def test_anonymous_groups_are_known_so_no_always_null_warning(tmp_path: Path) -> None:
    """An anonymous visitor has no groups (an empty list): AZ305, "always null", is for
    ``subject.id``, ``username`` and ``email`` only."""
    path = tmp_path / "anon.yaml"
    path.write_text(
        POLICY
        + """\
  - id: anonymous-reads-unless-blocked
    effect: allow
    subjects: [anonymous]
    actions: [read]
    resource: report
    when: '"blocked" not in subject.groups and subject.username != "x"'
"""
    )
    _, findings = lint_paths([str(path)])
    az305 = [f.message for f in findings if f.code == "AZ305"]
    assert len(az305) == 1 and "subject.username" in az305[0] and "groups" not in az305[0]
