"""Lint hardening: dead conditions (AZ303), always-true denies (AZ304), subject attributes
of anonymous-only rules (AZ305), AZ302 through broad roles, and YAML errors in words."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from authzguard.policy import lint_paths
from authzguard.policy.conditions import parse
from authzguard.policy.satisfiable import always_holds, never_holds

ROOT = Path(__file__).resolve().parent.parent

HEAD = """\
version: 1
roles:
  member: {granted_to: [authenticated], inherits: [reader]}
  reader: {}
  visitor: {granted_to: [anonymous]}
  admin: {granted_to: [superuser]}
resources:
  doc:
    actions: [read, delete]
    attributes:
      owner: key
      status: str
      tags: list
rules:
"""


def lint(tmp_path: Path, rules: str) -> list[tuple[int, str, str]]:
    path = tmp_path / "p.yaml"
    path.write_text(HEAD + rules, encoding="utf-8")
    _, findings = lint_paths([path])
    return [(f.line, f.code, f.message) for f in findings]


def test_a_condition_that_can_never_hold(tmp_path: Path) -> None:
    rules = """\
  - id: two-states
    effect: allow
    subjects: [admin]
    actions: [read]
    resource: doc
    when: resource.status == "x" and resource.status == "y"
  - id: owner-and-not
    effect: deny
    subjects: [admin]
    actions: [delete]
    resource: doc
    when: resource.owner == subject.id and not (resource.owner == subject.id)
  - id: fine
    effect: allow
    subjects: [admin]
    actions: [delete]
    resource: doc
    when: resource.status == "x" or resource.status == "y"
"""
    assert lint(tmp_path, rules) == [
        (
            20,
            "AZ303",
            "rule 'two-states' can never apply: no values make its condition hold "
            '(resource.status == "x" and resource.status == "y")',
        ),
        (
            26,
            "AZ303",
            "rule 'owner-and-not' can never apply: no values make its condition hold "
            "(resource.owner == subject.id and not (resource.owner == subject.id))",
        ),
    ]


def test_a_deny_whose_condition_always_holds(tmp_path: Path) -> None:
    rules = """\
  - {id: literal, effect: deny, subjects: [admin], actions: [read], resource: doc, when: true}
  - {id: same, effect: deny, subjects: [admin], actions: [read], resource: doc,
     when: resource.status == resource.status or resource.owner == 1}
  - {id: allow-true, effect: allow, subjects: [admin], actions: [read], resource: doc, when: true}
  - {id: plain, effect: deny, subjects: [admin], actions: [delete], resource: doc}
"""
    found = lint(tmp_path, rules)
    assert [(line, code) for line, code, _ in found] == [(15, "AZ304"), (17, "AZ304")]
    assert found[0][2] == (
        "deny rule 'literal' has a condition that always holds (true): it denies "
        "unconditionally; drop `when:` or fix it"
    )


def test_subject_attributes_in_anonymous_only_rules(tmp_path: Path) -> None:
    rules = """\
  - {id: anon-own, effect: allow, subjects: [anonymous], actions: [read], resource: doc,
     when: resource.owner == subject.id}
  - {id: visitor-named, effect: allow, subjects: [visitor], actions: [read], resource: doc,
     when: subject.username != "x" and subject.email != "y"}
  - {id: mixed, effect: allow, subjects: [visitor, member], actions: [read], resource: doc,
     when: resource.owner == subject.id}
"""
    found = lint(tmp_path, rules)
    assert [(line, code) for line, code, _ in found] == [(16, "AZ305"), (18, "AZ305")]
    assert found[1][2] == (
        "rule 'visitor-named' reads subject.email, subject.username, but only anonymous "
        "visitors match it and they have none (always null)"
    )


def test_idor_risk_through_roles_granted_to_everyone(tmp_path: Path) -> None:
    rules = """\
  - {id: members-delete, effect: allow, subjects: [member], actions: [delete], resource: doc}
  - {id: readers-delete, effect: allow, subjects: [reader], actions: [delete], resource: doc}
  - {id: admins-delete, effect: allow, subjects: [admin], actions: [delete], resource: doc}
  - {id: own, effect: allow, subjects: [member], actions: [delete], resource: doc,
     when: resource.owner == subject.id}
"""
    found = lint(tmp_path, rules)
    assert [(line, code) for line, code, _ in found] == [(15, "AZ302"), (16, "AZ302")]
    assert "lets 'member' delete any doc" in found[0][2]


def test_the_issue_s_worst_edit_is_flagged(tmp_path: Path) -> None:
    text = (ROOT / "policies" / "demo.yaml").read_text(encoding="utf-8")
    widened = text.replace("granted_to: [superuser]", "granted_to: [superuser, authenticated]")
    assert widened != text
    (tmp_path / "demo.yaml").write_text(widened, encoding="utf-8")
    _, findings = lint_paths([tmp_path / "demo.yaml"])
    flagged = {f.message.split("'")[1] for f in findings if f.code == "AZ302"}
    assert flagged == {"admin-ends-any-session", "admin-delete-user"}


@pytest.mark.parametrize(
    ("text", "context", "hint"),
    [
        (
            "version: 1\nrules: [a, b\nresources: {}\n",
            "(while parsing a flow sequence at line 2, column 8)",
            "a list opened with '[' is not closed: add the missing ']' or a comma",
        ),
        (
            'version: 1\ndescription: "open\n',
            "(while scanning a quoted scalar at line 2, column 14)",
            "a quoted string has no closing quote",
        ),
        (
            "version: 1\nroles:\n  admin: {}\n admin2: {}\n",
            "(while parsing a block mapping at line 1, column 1)",
            "the keys of one mapping are not indented equally",
        ),
    ],
)
def test_yaml_errors_keep_the_context_mark_and_say_it_in_words(
    tmp_path: Path, text: str, context: str, hint: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    _, findings = lint_paths([path])
    (finding,) = findings
    assert finding.code == "AZ003"
    assert finding.message.startswith("YAML syntax error: ")
    assert context in finding.message
    assert hint in finding.message


def test_the_search_is_bounded_on_a_generated_worst_case() -> None:
    # 40 attributes compared pairwise: far more assignments than the budget allows, so
    # the answer is "unknown" (no warning) without enumerating them.
    names = [f"resource.a{i}" for i in range(40)]
    condition = " and ".join(f"{a} == {b}" for a, b in itertools.pairwise(names))
    tree = parse(condition)
    types = {("resource", f"a{i}"): "str" for i in range(40)}
    assert never_holds(tree, types) is None
    assert always_holds(tree, types) is None
    # Small enough to search: decided exactly.
    small = parse('resource.a0 == "x" and resource.a1 == resource.a0 and resource.a1 != "x"')
    assert never_holds(small, types) is True


def test_one_run_tries_a_bounded_number_of_assignments_in_all() -> None:
    from authzguard.policy.satisfiable import RUN_BUDGET, Budget, outcomes

    # Each condition can never hold, so its search tries all 7**4 assignments (4
    # attributes, 3 literals + 4 fresh values each): a run of many of them stops
    # searching once the run's budget is spent, and says "unknown" from then on.
    each = 7**4
    types = {("resource", f"a{i}"): "str" for i in range(4)}
    budget = Budget()
    answers = []
    for n in range(2 * RUN_BUDGET // each):
        text = (
            f'resource.a0 == "x{n}" and resource.a0 == "y{n}" and resource.a1 != "z{n}"'
            " and resource.a2 == resource.a3"
        )
        answers.append(outcomes(parse(text), types, budget))
    assert 0 <= budget.left < each
    assert answers[0] == (False, True)
    assert answers[-1] is None
    assert sum(a is not None for a in answers) == RUN_BUDGET // each
