"""The ``authzguard`` command line: lint, explain, compile, and ``python -m authzguard``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import casbin
import pytest

from authzguard.cli import main
from authzguard.policy import Resource, Subject, compile_policy, load_policy

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "policies" / "demo.yaml"

THREE_MISTAKES = """\
version: 1
roles:
  admin:
    granted_to: [superuser]
resources:
  doc:
    actions: [read, delete]
    attributes:
      owner: key
rules:
  - id: admins-delete
    effect: permit
    subjects: [admin]
    actions: [delete]
    resource: doc
  - id: editors-read
    effect: allow
    subjects: [editor]
    actions: [read]
    resource: doc
  - id: owners-read
    effect: allow
    subjects: [authenticated]
    actions: [read]
    resource: doc
    when: resource.owner = subject.id
"""

ONLY_A_WARNING = """\
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
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def three(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    Path("three.yaml").write_text(THREE_MISTAKES, encoding="utf-8")
    return "three.yaml"


# -- lint ---------------------------------------------------------------------------------


def test_lint_reports_all_three_mistakes_with_their_positions(
    capsys: pytest.CaptureFixture[str], three: str
) -> None:
    code, out, err = run(capsys, "lint", three)
    assert code == 1
    assert out.splitlines() == [
        # line 12, column 13: the value of ``effect:``
        "three.yaml:12:13: error: effect must be allow or deny, not 'permit' [AZ105]",
        # line 16, column 5: the rule that names the undefined role
        "three.yaml:18:16: error: rule 'editors-read': undefined role 'editor' [AZ202]",
        # line 26, column 26: the ``=`` inside the condition
        "three.yaml:26:26: error: condition: unexpected character '=' [AZ207]",
    ]
    assert err.strip() == "3 error(s), 0 warning(s)"


def test_lint_json_format(capsys: pytest.CaptureFixture[str], three: str) -> None:
    code, out, _ = run(capsys, "lint", three, "--format", "json")
    assert code == 1
    findings = json.loads(out)
    assert [(f["line"], f["column"], f["severity"], f["code"], f["name"]) for f in findings] == [
        (12, 13, "error", "AZ105", "invalid-value"),
        (18, 16, "error", "AZ202", "undefined-role"),
        (26, 26, "error", "AZ207", "condition-syntax"),
    ]
    assert {f["file"] for f in findings} == {"three.yaml"}
    assert findings[1]["message"] == "rule 'editors-read': undefined role 'editor'"


def test_lint_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path, three: str) -> None:
    assert run(capsys, "lint", str(DEMO))[0] == 0
    assert run(capsys, "lint", str(ROOT / "policies"), "--strict")[0] == 0
    assert run(capsys, "lint", three)[0] == 1
    code, _, err = run(capsys, "lint")
    assert code == 2
    assert "the following arguments are required: PATH" in err
    assert run(capsys, "lint", three, "--format", "xml")[0] == 2
    code, out, _ = run(capsys, "lint", str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "no such policy file or directory [AZ001]" in out


def test_lint_strict_fails_on_warnings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "warn.yaml"
    path.write_text(ONLY_A_WARNING, encoding="utf-8")
    code, out, err = run(capsys, "lint", str(path))
    assert code == 0
    assert out == (
        f"{path}:6:5: warning: rule 'anyone-deletes' lets 'authenticated' delete any doc with "
        "no ownership condition (IDOR risk): add e.g. `when: resource.owner == subject.id` "
        "[AZ302]\n"
    )
    assert err.strip() == "0 error(s), 1 warning(s)"
    code, strict_out, _ = run(capsys, "lint", str(path), "--strict")
    assert code == 1
    assert strict_out == out
    code, json_out, _ = run(capsys, "lint", str(path), "--strict", "--format", "json")
    assert code == 1
    assert [f["code"] for f in json.loads(json_out)] == ["AZ302"]


# -- explain ------------------------------------------------------------------------------


def _position(rule_id: str) -> str:
    """``file:line:col`` of a rule of the demo policy (where its mapping starts)."""
    for number, line in enumerate(DEMO.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() == f"- id: {rule_id}":
            return f"{DEMO}:{number}:{line.index('-') + 3}"
    raise AssertionError(f"rule {rule_id} not in the demo policy")


def test_explain_allow_names_the_rule_and_the_role_chain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        str(DEMO),
        "--subject",
        "id=7,roles=admin",
        "--action",
        "delete",
        "--resource",
        "user:id=9",
    )
    assert code == 0
    assert out.splitlines() == [
        "decision: allow",
        "rule: admin-delete-user",
        "reason: allowed by rule 'admin-delete-user' via admin",
        "chain: admin",
        "effective roles: *, admin, authenticated",
        "rules considered:",
        f"  allow admin-delete-user [{_position('admin-delete-user')}]: matched via admin "
        "(no condition)",
        f"  deny  no-self-delete [{_position('no-self-delete')}]: condition-false via * "
        "(resource.id == subject.id)",
    ]


def test_explain_deny_overrides_and_says_which_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        str(DEMO),
        "--subject",
        "id=7,roles=admin",
        "--action",
        "delete",
        "--resource",
        "user:id=7",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [
        "decision: deny",
        "rule: no-self-delete",
        "reason: denied by rule 'no-self-delete' via *",
        "chain: *",
    ]
    assert lines[-1].endswith(": matched via * (resource.id == subject.id)")


def test_explain_no_rule_matched(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        str(DEMO),
        "--subject",
        "anonymous",
        "--action",
        "end",
        "--resource",
        "session:owner=7",
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[:4] == [
        "decision: deny",
        "rule: (none)",
        "reason: denied: no rule matched 'end' on 'session'",
        "effective roles: *, anonymous",
    ]
    assert (
        f"  allow end-own-sessions [{_position('end-own-sessions')}]: subject-mismatch "
        "(needs one of: authenticated)"
    ) in lines


def test_explain_json_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        str(DEMO),
        "--subject",
        "id=7",
        "--action",
        "end",
        "--resource",
        "session:owner=7",
        "--format",
        "json",
    )
    assert code == 0
    result = json.loads(out)
    assert (result["allowed"], result["rule"], result["chain"]) == (
        True,
        "end-own-sessions",
        ["authenticated"],
    )
    assert [s["outcome"] for s in result["steps"]] == ["matched", "subject-mismatch"]
    code, _, err = run(
        capsys,
        "explain",
        str(DEMO),
        "--subject",
        "id=7",
        "--action",
        "end",
        "--resource",
        "nope:x=1",
    )
    assert code == 2
    assert "the policy declares no resource kind 'nope'" in err
    code, _, err = run(
        capsys, "explain", str(DEMO), "--subject", "7", "--action", "end", "--resource", "session"
    )
    assert code == 2
    assert "--subject: expected name=value, got '7'" in err


def test_explain_maps_django_facts_through_granted_to(capsys: pytest.CaptureFixture[str]) -> None:
    # The demo grants admin to superusers: facts, not role names, make the admin.
    argv = ["explain", str(DEMO), "--action", "delete", "--resource", "user:id=9"]
    code, out, _ = run(capsys, *argv, "--subject", "id=7,superuser=true", "--exit-code")
    assert (code, out.splitlines()[1]) == (0, "rule: admin-delete-user")
    code, out, _ = run(capsys, *argv, "--subject", "id=7,superuser=false", "--exit-code")
    assert (code, out.splitlines()[0]) == (3, "decision: deny")
    code, out, _ = run(capsys, *argv, "--subject-json", '{"id": 7, "superuser": true}')
    assert (code, out.splitlines()[0]) == (0, "decision: allow")
    # Without --exit-code a deny still exits 0, as before.
    assert run(capsys, *argv, "--subject", "anonymous")[0] == 0


def test_explain_all_actions(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["explain", str(DEMO), "--subject", "id=7", "--resource", "session:owner=7"]
    code, out, _ = run(capsys, *argv, "--all-actions", "--exit-code")
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("==")] == [
        "== session end ==",
        "== session view ==",
    ]
    code, out, _ = run(capsys, *argv[:-1], "session:owner=8", "--all-actions", "--format", "json")
    assert code == 0
    assert [(r["action"], r["allowed"]) for r in json.loads(out)] == [
        ("end", False),
        ("view", False),
    ]
    assert json.loads(out)[0]["subject"]["id"] == 7
    code, _, _ = run(capsys, *argv[:-1], "session:owner=8", "--all-actions", "--exit-code")
    assert code == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--subject", "id=7,roles=admn"), "declares no role 'admn'; did you mean 'admin'?"),
        (("--action", "ned"), "declares no action 'ned'; did you mean 'end'?"),
        (("--resource", "sesion:owner=7"), "no resource kind 'sesion'; did you mean 'session'?"),
        (("--resource", "session:ownr=7"), "no attribute 'ownr'; did you mean 'owner'?"),
        (("--resource", "session:owner=[1+2]"), "resource.owner is a list, not a key"),
        (("--subject", "id=7,stuff=true"), "unknown fact 'stuff'; did you mean 'staff'?"),
    ],
)
def test_explain_undeclared_names_are_usage_errors(
    capsys: pytest.CaptureFixture[str], change: tuple[str, str], message: str
) -> None:
    options = {"--subject": "id=7", "--action": "end", "--resource": "session:owner=7"}
    options[change[0]] = change[1]
    argv = [part for pair in options.items() for part in pair]
    code, out, err = run(capsys, "explain", str(DEMO), *argv)
    assert (code, out) == (2, "")
    assert message in err


# -- compile ------------------------------------------------------------------------------

ADMIN = Subject(id=1, username="root", roles=frozenset({"admin"}), authenticated=True)
ALICE = Subject(id=2, username="alice", authenticated=True)
BOB = Subject(id=3, username="bob", authenticated=True)
ANONYMOUS = Subject.anonymous()

#: The demo's flows and their answers: who may end whose sessions, delete whom.
DEMO_FLOWS = [
    (ALICE, "end", Resource("session", {"owner": 2}), True),
    (ALICE, "end", Resource("session", {"owner": 3}), False),
    (ALICE, "view", Resource("session", {"owner": 2}), True),
    (BOB, "view", Resource("session", {"owner": 2}), False),
    (ANONYMOUS, "end", Resource("session", {"owner": 2}), False),
    (ADMIN, "end", Resource("session", {"owner": 3}), True),
    (ALICE, "end", Resource("browser_session", {"owner": 2}), True),
    (BOB, "end", Resource("browser_session", {"owner": 2}), False),
    (ALICE, "delete", Resource("user", {"id": 3}), False),
    (ADMIN, "delete", Resource("user", {"id": 3}), True),
    (ADMIN, "delete", Resource("user", {"id": 1}), False),
    (ANONYMOUS, "delete", Resource("user", {"id": 3}), False),
    (ADMIN, "list", Resource("user", {}), True),
    (ALICE, "list", Resource("user", {}), False),
    (ALICE, "end", Resource("session", {}), False),
]


def casbin_request(subject: Subject, action: str, resource: Resource) -> tuple[object, ...]:
    """The request as the docs describe it, built here without authzguard's help."""
    builtin = "authenticated" if subject.authenticated else "anonymous"
    roles = [f"role:{r}" for r in ("*", builtin, *sorted(subject.roles))]
    attrs = {
        k: v for k, v in {"id": subject.id, "username": subject.username}.items() if v is not None
    }
    sub = SimpleNamespace(roles=roles, **attrs)
    return sub, action, SimpleNamespace(kind=resource.kind, **resource.attributes)


def test_compile_output_loads_into_stock_casbin_with_the_same_decisions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "casbin"
    code, printed, _ = run(capsys, "compile", str(DEMO), "--out", str(out))
    assert code == 0
    assert printed.startswith(f"wrote {out / 'model.conf'} and {out / 'policy.csv'} (")
    enforcer = casbin.Enforcer(str(out / "model.conf"), str(out / "policy.csv"))
    compiled = compile_policy(load_policy([DEMO]))
    assert len(enforcer.get_policy()) == len(compiled.policy.rules)
    for subject, action, resource, expected in DEMO_FLOWS:
        decided = compiled.decide(subject, action, resource).allowed
        try:
            stock = enforcer.enforce(*casbin_request(subject, action, resource))
        except Exception:  # an absent attribute: Casbin raises, which denies
            stock = False
        assert decided == stock == expected, (subject, action, resource)


def test_compile_writes_the_documented_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "compile", str(DEMO), "--out", str(tmp_path))
    rows = (tmp_path / "policy.csv").read_text(encoding="utf-8").splitlines()
    assert (
        "p, role:authenticated, session, end, (r.obj.owner == r.sub.id), allow, end-own-sessions"
        in rows
    )
    assert "p, role:*, user, delete, (r.obj.id == r.sub.id), deny, no-self-delete" in rows
    model = (tmp_path / "model.conf").read_text(encoding="utf-8")
    assert "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))" in model


# -- python -m authzguard -----------------------------------------------------------------


def test_python_dash_m_authzguard(tmp_path: Path) -> None:
    lint = subprocess.run(
        [sys.executable, "-m", "authzguard", "lint", str(DEMO)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert lint.returncode == 0, lint.stderr
    assert lint.stdout == ""
    assert lint.stderr.strip() == "0 error(s), 0 warning(s)"
    bad = tmp_path / "three.yaml"
    bad.write_text(THREE_MISTAKES, encoding="utf-8")
    failing = subprocess.run(
        [sys.executable, "-m", "authzguard", "lint", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failing.returncode == 1
    assert len(failing.stdout.splitlines()) == 3
    usage = subprocess.run(
        [sys.executable, "-m", "authzguard"], capture_output=True, text=True, timeout=60
    )
    assert usage.returncode == 2
    assert "{lint,explain,plan,test,compile,diff,matrix,replay}" in usage.stderr
