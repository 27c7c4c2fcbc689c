"""``authzguard lint --format github|sarif``: findings as code-scanning annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from authzguard.cli import main
from authzguard.policy.findings import CODES

TWO_PROBLEMS = """\
version: 1
resources:
  doc:
    actions: [read, delete]
rules:
  - id: anyone-deletes
    effect: allow
    subjects: [authenticated]
    actions: [delete]
    resource: doc
  - id: no-reads
    effect: deny
    subjects: ["*"]
    actions: [read]
    resource: doc
  - id: readers
    effect: allow
    subjects: [authenticated]
    actions: [read]
    resource: doc
"""


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(TWO_PROBLEMS, encoding="utf-8")
    return "p.yaml"


def test_github_annotations(policy: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", policy, "--format", "github"]) == 0
    assert main(["lint", policy, "--format", "github", "--strict"]) == 1
    lines = capsys.readouterr().out.splitlines()[2:]
    assert lines[0] == (
        "::warning file=p.yaml,line=6,col=5,title=AZ302 idor-risk::rule 'anyone-deletes' lets "
        "'authenticated' delete any doc with no ownership condition (IDOR risk): add e.g. "
        "`when: resource.owner == subject.id`"
    )
    assert lines[1].startswith("::warning file=p.yaml,line=16,col=5,title=AZ301 shadowed-rule::")


def test_github_annotations_escape_what_would_end_a_command() -> None:
    from authzguard.lint_formats import github
    from authzguard.policy.findings import Finding

    text = github([Finding("a,b:c.yaml", 1, 1, "error", "AZ003", "50% broken\nhere")])
    assert (
        text
        == "::error file=a%2Cb%3Ac.yaml,line=1,col=1,title=AZ003 yaml-syntax::50%25 broken%0Ahere"
    )


def test_sarif_log(policy: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", policy, "--format", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["AZ301", "AZ302"]
    assert rules[0]["name"] == CODES["AZ301"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    warning = by_rule["AZ302"]
    assert warning["level"] == "warning"
    assert rules[warning["ruleIndex"]]["id"] == "AZ302"
    location = warning["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "p.yaml"},
        "region": {"startLine": 6, "startColumn": 5},
    }
    assert by_rule["AZ301"]["level"] == "warning"
    Path("broken.yaml").write_text("version: 1\nrules: [\n", encoding="utf-8")
    assert main(["lint", "broken.yaml", "--format", "sarif"]) == 1
    (result,) = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("AZ003", "error")


def test_clean_policy_prints_an_empty_sarif_run(capsys: pytest.CaptureFixture[str]) -> None:
    demo = Path(__file__).resolve().parent.parent / "policies" / "demo.yaml"
    assert main(["lint", str(demo), "--format", "sarif"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["results"] == []
    assert main(["lint", str(demo), "--format", "github"]) == 0
    assert capsys.readouterr().out == ""
