"""``authzguard test``: suites of expected decisions, their report, coverage, and the plugin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from authzguard.cli import main
from authzguard.policy import lint_paths
from authzguard.policy.loader import policy_files

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "policies" / "demo.yaml"

POLICY = """\
version: 1
roles:
  admin: {granted_to: [superuser], inherits: [support]}
  support: {granted_to: [{group: support}]}
resources:
  doc:
    actions: [read, delete]
    attributes:
      owner: key
rules:
  - {id: owners-read, effect: allow, subjects: [authenticated], actions: [read], resource: doc,
     when: resource.owner == subject.id}
  - {id: support-reads, effect: allow, subjects: [support], actions: [read], resource: doc}
  - {id: admins-delete, effect: allow, subjects: [admin], actions: [delete], resource: doc}
  - {id: keep-own, effect: deny, subjects: ["*"], actions: [delete], resource: doc,
     when: resource.owner == subject.id}
"""

SUITE = """\
principals:
  ann: {id: 7}
  desk: "id=8,groups=support"
  root: {id: 1, superuser: true}
  nobody: anonymous
resources:
  anns: {kind: doc, owner: 7}
  roots: {kind: doc, owner: 1}
tests:
  - name: owners read
    principal: ann
    resource: anns
    actions:
      read: {expect: allow, rule: owners-read}
      delete: deny
  - name: support reads through its group
    principals: [desk, root]
    resource: anns
    actions:
      read: {expect: allow, rule: support-reads}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "docs.yaml").write_text(POLICY, encoding="utf-8")
    (directory / "docs_test.yaml").write_text(SUITE, encoding="utf-8")
    return directory


def test_demo_suite_passes_with_full_rule_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", str(ROOT / "policies"), "--min-coverage", "100")
    assert code == 0, out
    assert "0 failed (1 suite file(s))" in out
    assert "rule coverage: 100.0% (7 of 7 rules decided a case)" in out
    assert "conditions never" not in out


def test_suites_are_never_loaded_as_policy(policy_dir: Path) -> None:
    (policy_dir / "tests").mkdir()
    (policy_dir / "tests" / "more.yaml").write_text(SUITE, encoding="utf-8")
    files, _ = policy_files([policy_dir])
    assert files == [policy_dir / "docs.yaml"]
    policy, findings = lint_paths([policy_dir])
    assert policy is not None and findings == []
    _, findings = lint_paths([policy_dir / "docs_test.yaml"])
    assert [(f.code, f.message) for f in findings] == [
        ("AZ001", "a policy test file, not a policy (run it with `authzguard test`)")
    ]


def test_report_lists_failures_uncovered_rules_and_conditions(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    code, out, _ = run(capsys, "test", str(policy_dir))
    lines = out.splitlines()
    # root gets support-reads through admin's inheritance, ann's delete is denied by no rule
    # (keep-own's condition is true for her, but it is a deny that decides, so it is covered).
    assert code == 0, out
    assert "4 case(s): 4 passed, 0 failed (1 suite file(s))" in lines
    assert "rule coverage: 75.0% (3 of 4 rules decided a case)" in lines
    section = lines.index("rules that decided no case (1):")
    assert lines[section + 1].startswith(f"  admins-delete  {policy_dir / 'docs.yaml'}:")
    assert "conditions never false (1):" in lines
    # keep-own only ever held; owners-read held for ann and not for desk or root.
    assert lines[lines.index("conditions never false (1):") + 1].startswith("  keep-own ")
    assert "conditions never true" not in out
    code, _, err = run(capsys, "test", str(policy_dir), "--min-coverage", "80")
    assert code == 1
    assert "rule coverage 75.0% is below --min-coverage 80%" in err


def test_failures_exit_one_in_every_format(
    capsys: pytest.CaptureFixture[str], policy_dir: Path
) -> None:
    suite = policy_dir / "docs_test.yaml"
    wrong = SUITE.replace("delete: deny", "delete: allow").replace(
        "rule: support-reads", "rule: admins-delete"
    )
    suite.write_text(wrong, encoding="utf-8")
    code, out, _ = run(capsys, "test", str(policy_dir))
    assert code == 1
    failures = [line for line in out.splitlines() if line.startswith("FAIL ")]
    assert failures[0] == (
        f"FAIL {suite}:15:7 owners read [ann delete anns]: expected allow, got deny by rule "
        "'keep-own' (denied by rule 'keep-own' via *)"
    )
    assert len(failures) == 3
    code, out, _ = run(capsys, "test", str(policy_dir), "--format", "json")
    report = json.loads(out)
    assert (code, report["passed"], report["failed"], report["cases"]) == (1, False, 3, 4)
    assert report["rules_deciding_no_case"][0]["rule"] == "admins-delete"
    code, out, _ = run(capsys, "test", str(policy_dir), "--format", "junit")
    root = ET.fromstring(out)  # our own output
    assert code == 1
    assert (root.get("tests"), root.get("failures")) == ("4", "3")
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed[0] == "owners read [ann delete anns]"


def test_tests_directory_and_tests_option(
    capsys: pytest.CaptureFixture[str], policy_dir: Path, tmp_path: Path
) -> None:
    (policy_dir / "docs_test.yaml").unlink()
    (policy_dir / "tests").mkdir()
    (policy_dir / "tests" / "reads.yaml").write_text(SUITE, encoding="utf-8")
    code, out, _ = run(capsys, "test", str(policy_dir))
    assert code == 0
    assert "(1 suite file(s))" in out
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "deletes.yaml").write_text(
        SUITE.split("tests:")[0]
        + "tests:\n  - {name: admins delete, principal: root, resource: anns,"
        + " actions: {delete: allow}}\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "test", str(policy_dir), "--tests", str(elsewhere))
    assert code == 0
    assert "rule coverage: 100.0%" in out
    code, _, err = run(capsys, "test", str(policy_dir / "docs.yaml"))
    assert code == 2
    assert "no policy test files" in err


def test_malformed_suites_say_where(capsys: pytest.CaptureFixture[str], policy_dir: Path) -> None:
    bad = """\
principals:
  ann: {id: 7, stuff: true}
  bob: {id: 8, roles: [admn]}
resources:
  anns: {kind: dok}
  other: {kind: doc, ownr: 7}
tests:
  - name: t
    principal: ann
    resource: nope
    actions:
      reed: allow
      delete: {expect: maybe, rule: admins-delet}
"""
    (policy_dir / "docs_test.yaml").write_text(bad, encoding="utf-8")
    code, out, _ = run(capsys, "test", str(policy_dir))
    assert code == 1
    suite = policy_dir / "docs_test.yaml"
    assert out.splitlines() == [
        f"{suite}:2:8: error: principal 'ann': unknown fact 'stuff'; did you mean 'staff'?",
        f"{suite}:3:8: error: principal 'bob': the policy declares no role 'admn';"
        " did you mean 'admin'?",
        f"{suite}:5:9: error: resource 'anns': the policy declares no resource kind 'dok';"
        " did you mean 'doc'?",
        f"{suite}:6:10: error: resource 'other': resource kind 'doc' declares no attribute"
        " 'ownr'; did you mean 'owner'?",
        f"{suite}:10:15: error: test 't': no resource 'nope'",
        f"{suite}:13:24: error: test 't': action 'delete': expect allow or deny",
        f"{suite}:13:37: error: test 't': action 'delete': no rule 'admins-delet';"
        " did you mean 'admins-delete'?",
    ]


def test_plugin_runs_suites_and_checks_coverage(policy_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = -p authzguard.pytest_plugin\nauthzguard_min_coverage = 100\n",
        encoding="utf-8",
    )
    shutil.copy(DEMO, tmp_path / "policies" / "demo-unrelated.txt")  # not YAML: ignored
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:django", "-v"]
    argv += ["-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(policy_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    out = done.stdout
    assert "docs_test.yaml::owners read PASSED" in out, out
    assert "docs_test.yaml::support reads through its group PASSED" in out
    # admins-delete decides no case: the coverage item fails and names it.
    assert "docs_test.yaml::rule coverage FAILED" in out
    assert "rule coverage 75.0% is below 100%" in out
    assert "admins-delete" in out
    assert done.returncode == 1
    (policy_dir / "docs_test.yaml").write_text(
        SUITE.replace("delete: deny", "delete: allow"), encoding="utf-8"
    )
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert "docs_test.yaml::owners read FAILED" in done.stdout
    assert "expected allow, got deny by rule 'keep-own'" in done.stdout


def test_the_documented_suite_runs_against_the_demo_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    docs = (ROOT / "docs" / "policy-language.md").read_text(encoding="utf-8")
    block = docs.split("# policies/demo_test.yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "doc_test.yaml").write_text(block, encoding="utf-8")
    code, out, _ = run(capsys, "test", str(DEMO), "--tests", str(tmp_path / "doc_test.yaml"))
    assert code == 0, out
    assert "4 case(s): 4 passed, 0 failed (1 suite file(s))" in out
