"""``authzguard diff``: the semantic diff of who may do what (issue 13 item 4).

Every widening must be reported with a counterexample; each counterexample is checked
here again, independently of the diff, by deciding it under both policies.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from authzguard.cli import main
from authzguard.policy import Resource, compile_policy, load_policy
from authzguard.policy.compare import BUDGET, Budget
from authzguard.policy.diff import diff, version
from authzguard.policy.facts import facts_from_mapping, subject_from_facts

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "policies" / "demo.yaml"
FIXTURES = ROOT / "tests" / "fixtures" / "diff"

NINE_WIDENINGS = {
    "widen_drop_when.yaml": ("session", "end"),
    "widen_add_subject.yaml": ("user", "list"),
    "widen_deny_to_allow.yaml": ("user", "delete"),
    "widen_wildcard_subject.yaml": ("session", "end"),
    "widen_negated.yaml": ("browser_session", "end"),
    "widen_or_true.yaml": ("session", "view"),
    "widen_delete_deny.yaml": ("user", "delete"),
    "widen_actions_and_subjects.yaml": ("user", "delete"),
    "widen_granted_to_authenticated.yaml": ("user", "delete"),
}


def run_diff(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["diff", *argv, "--fail-on", "widen", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def check_counterexample(
    base: list[Path], new: list[Path], kind: str, action: str, ce: Any
) -> None:
    """Decide the reported principal and target under both policies, from scratch."""
    subject = dict(ce["subject"])
    facts = facts_from_mapping(subject, "counterexample")
    attributes = {k: v for k, v in ce["resource"].items() if k != "kind"}
    assert ce["resource"]["kind"] == kind
    decided = []
    for paths in (base, new):
        compiled = compile_policy(load_policy(paths))
        decision = compiled.decide(
            subject_from_facts(compiled, facts), action, Resource(kind, attributes)
        )
        decided.append(decision.allowed and decision.error is None)
    assert decided == [False, True], (kind, action, ce)


@pytest.mark.parametrize("fixture", sorted(NINE_WIDENINGS))
def test_each_of_the_nine_widening_edits_fails_with_a_checked_counterexample(
    capsys: pytest.CaptureFixture[str], fixture: str
) -> None:
    new = FIXTURES / fixture
    code, doc = run_diff(capsys, str(DEMO), str(new))
    assert code == 1
    assert doc["widens"] is True
    widening = [c for c in doc["changes"] if c["effect"] in ("widen", "both")]
    assert widening, doc
    kinds = {(c["kind"], c["action"]) for c in widening}
    assert NINE_WIDENINGS[fixture] in kinds
    for change in widening:
        assert change["counterexample"] is not None
        # Rule ids and file:line on the side that grants.
        assert any(f"{new}:" in cited for cited in change["new"]["rules"])
        check_counterexample(
            [DEMO], [new], change["kind"], change["action"], change["counterexample"]
        )


def test_granted_to_authenticated_lets_every_signed_in_user_delete_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["diff", str(DEMO), str(FIXTURES / "widen_granted_to_authenticated.yaml")])
    out = capsys.readouterr().out
    assert code == 0  # without --fail-on, a report only
    assert "role admin granted_to + authenticated" in out
    assert "WIDENS: user.delete for authenticated, staff" in out
    assert "base: never" in out and "new:  not (resource.id == subject.id)" in out
    assert "admin-delete-user (" in out and "via admin" in out
    assert f"{DEMO}:7" in out  # the role's line on the base side


def test_a_second_file_that_adds_an_allow(capsys: pytest.CaptureFixture[str]) -> None:
    base, new = FIXTURES / "second_file" / "base", FIXTURES / "second_file" / "new"
    code, doc = run_diff(capsys, str(base), str(new))
    assert code == 1
    assert {"topic": "file", "change": "file support.yaml added"}.items() <= doc["structure"][
        0
    ].items()
    [change] = doc["changes"]
    assert (change["kind"], change["action"], change["principals"]) == ("user", "list", ["staff"])
    check_counterexample([base], [new], "user", "list", change["counterexample"])


def test_an_inheritance_only_change(capsys: pytest.CaptureFixture[str]) -> None:
    base, new = FIXTURES / "inherit" / "base", FIXTURES / "inherit" / "new"
    code, doc = run_diff(capsys, str(base), str(new))
    assert code == 1
    assert [s["change"] for s in doc["structure"]] == ["role support inherits + admin"]
    delete = next(c for c in doc["changes"] if (c["kind"], c["action"]) == ("user", "delete"))
    assert delete["principals"] == ["staff"]
    assert any("via support -> admin" in cited for cited in delete["new"]["rules"])
    check_counterexample([base], [new], "user", "delete", delete["counterexample"])


def test_a_reordered_reformatted_recommented_policy_diffs_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc = run_diff(capsys, str(DEMO), str(FIXTURES / "reformatted.yaml"))
    assert code == 0
    assert doc["changes"] == [] and doc["structure"] == []
    assert main(["diff", str(DEMO), str(FIXTURES / "reformatted.yaml")]) == 0
    assert "no change in who may do what" in capsys.readouterr().out


@pytest.mark.parametrize("fixture", ["narrow_condition.yaml", "narrow_fewer_actions.yaml"])
def test_narrowing_edits_are_classified_narrowing_and_do_not_fail(
    capsys: pytest.CaptureFixture[str], fixture: str
) -> None:
    code, doc = run_diff(capsys, str(DEMO), str(FIXTURES / fixture))
    assert code == 0
    assert doc["changes"] and {c["effect"] for c in doc["changes"]} == {"narrow"}
    assert all(c["narrowing_example"] is not None for c in doc["changes"])


def test_a_negated_condition_both_widens_and_narrows(capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = run_diff(capsys, str(DEMO), str(FIXTURES / "widen_negated.yaml"))
    [change] = doc["changes"]
    assert change["effect"] == "both" and change["counts_as_widening"]
    assert change["base"]["condition"] == "resource.owner == subject.id"
    assert change["new"]["condition"] == "not (resource.owner == subject.id)"


def test_a_lint_block_that_relaxes_its_own_warnings_fails_on_widen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc = run_diff(capsys, str(DEMO), str(FIXTURES / "lint_relaxed.yaml"))
    assert code == 1
    relaxed = [s["change"] for s in doc["structure"] if s["relaxes"]]
    assert "lint destructive_actions - delete" in relaxed
    assert doc["changes"] == []


def test_markdown_is_a_table_with_counterexamples(capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(DEMO), str(FIXTURES / "widen_delete_deny.yaml"), "--format", "markdown"]
    assert main(["diff", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### authzguard diff")
    assert "| change | access | principals | base | new |" in out
    assert "`user.delete`" in out and "<summary>Counterexamples</summary>" in out


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_git_revision_against_the_working_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "demo.yaml").write_text(DEMO.read_text())
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    monkeypatch.chdir(tmp_path)
    assert main(["diff", "--git", "HEAD", "--fail-on", "widen"]) == 0
    assert "no change in who may do what" in capsys.readouterr().out
    edited = (FIXTURES / "widen_granted_to_authenticated.yaml").read_text()
    (tmp_path / "policies" / "demo.yaml").write_text(edited)
    (tmp_path / "policies" / "support.yaml").write_text(
        (FIXTURES / "second_file" / "new" / "support.yaml").read_text()
    )
    code, doc = run_diff(capsys, "--git", "HEAD", "policies")
    assert code == 1
    changes = [s["change"] for s in doc["structure"]]
    assert "file policies/support.yaml added" in changes
    assert any(s["base"] == "HEAD:policies/demo.yaml:7" for s in doc["structure"])
    # A path that did not exist at the revision: everything in it is new.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "demo.yaml").write_text(DEMO.read_text())
    code, doc = run_diff(capsys, "--git", "HEAD", "other")
    assert code == 1 and doc["structure"][0]["change"] == "file other/demo.yaml added"
    assert ("user", "delete") in {(c["kind"], c["action"]) for c in doc["changes"]}


def test_bad_git_revision_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _git(tmp_path, "init", "-q")
    monkeypatch.chdir(tmp_path)
    assert main(["diff", "--git", "no-such-rev"]) == 2
    assert "--git" in capsys.readouterr().err
    assert main(["diff", str(DEMO)]) == 2


def _groups_policy(groups: int) -> str:
    roles = "".join(f"  r{i}:\n    granted_to: [{{group: g{i}}}]\n" for i in range(groups))
    return (
        "version: 1\nroles:\n"
        + roles
        + "resources:\n  doc:\n    actions: [read]\n"
        + "rules:\n  - {id: r, effect: allow, subjects: [r0], actions: [read], resource: doc}\n"
    )


def test_principals_are_every_combination_up_to_ten_facts_then_pairs(tmp_path: Path) -> None:
    small, large = tmp_path / "small.yaml", tmp_path / "large.yaml"
    small.write_text(_groups_policy(6))  # 4 + 6 = 10 facts: every combination
    large.write_text(_groups_policy(7))
    for path, count, partial in ((small, 1 + 2**8, False), (large, 1 + 1 + 9 + 36, True)):
        compiled = compile_policy(load_policy([path]))
        result = diff(version("a", compiled, None), version("b", compiled, None))
        assert len(result.principals.principals) == count
        assert result.principals.partial is partial
        assert ("not every combination" in result.principals.note()) is partial


def _wide_condition_policy(attributes: int, literals: int, negate: bool) -> str:
    names = [f"a{i}" for i in range(attributes)]
    attrs = ", ".join(f"{n}: {{type: int}}" for n in names)
    clauses = " or ".join(f"resource.{n} == {v}" for n in names for v in range(literals))
    when = f"not ({clauses})" if negate else clauses
    return (
        "version: 1\nresources:\n  doc:\n    actions: [read]\n"
        f"    attributes: {{{attrs}}}\n"
        f"rules:\n  - {{id: r, effect: allow, subjects: [authenticated], actions: [read],"
        f' resource: doc, when: "{when}"}}\n'
    )


def _timed_diff(tmp_path: Path, attributes: int, literals: int) -> tuple[float, Any, Budget]:
    base, new = tmp_path / f"b{attributes}.yaml", tmp_path / f"n{attributes}.yaml"
    base.write_text(_wide_condition_policy(attributes, literals, False))
    new.write_text(_wide_condition_policy(attributes, literals, True))
    sides = [version(p.name, compile_policy(load_policy([p])), None) for p in (base, new)]
    budget = Budget()
    started = time.perf_counter()
    result = diff(sides[0], sides[1], budget)
    return time.perf_counter() - started, result, budget


def test_worst_case_search_is_bounded_and_says_unknown(tmp_path: Path) -> None:
    """A generated condition over many attributes: the search stops at its bound, says
    "unknown" (which fails --fail-on widen), and costs a bounded multiple of a small case."""
    small_time, small, small_budget = _timed_diff(tmp_path, 2, 3)
    assert {c.effect for c in small.changes} == {"both"}  # exact below the bound
    assert small_budget.tried <= 6 * 36
    big_time, big, big_budget = _timed_diff(tmp_path, 12, 8)
    assert [c.effect for c in big.changes] == ["unknown"]
    assert big.widens()
    assert "more than" in (big.changes[0].unknown or "")
    # Sizes are counted before values are built: past the bound nothing is tried at all.
    assert big_budget.tried <= BUDGET
    assert big_time < max(small_time, 0.001) * 200
