"""Every loader error class, one fixture file each, with the exact position and message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from authzguard.exceptions import PolicyError
from authzguard.policy import compile_policy, lint_paths, load_policy
from authzguard.policy.findings import CODES
from authzguard.policy.loader import policy_files

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).resolve().parent / "fixtures" / "bad"

# fixture -> every finding it must produce: (line, column, severity, code, message)
EXPECTED: dict[str, list[tuple[int, int, str, str, str]]] = {
    "unsafe_tag.yaml": [
        (4, 13, "error", "AZ004", "tag !!python/object/apply:os.system is not allowed in a policy"),
    ],
    "binary_tag.yaml": [
        (
            3,
            10,
            "error",
            "AZ004",
            "tag !!binary is not allowed in a policy (only plain YAML scalars, lists and mappings)",
        ),
    ],
    "merge_key.yaml": [
        (
            4,
            5,
            "error",
            "AZ004",
            "merge keys (<<) are not supported in policies: write the keys out",
        ),
    ],
    "duplicate_key.yaml": [
        (8, 5, "error", "AZ005", "duplicate key 'effect' (first defined at line 7)"),
    ],
    "unknown_key.yaml": [
        (7, 5, "error", "AZ101", "unknown key 'efect' in a rule; did you mean 'effect'?"),
    ],
    "yaml11_bool.yaml": [
        (
            7,
            13,
            "error",
            "AZ103",
            "effect: YAML 1.1 reads 'no' as a boolean; quote it (\"no\") if you mean the text",
        ),
    ],
    "yaml11_octal.yaml": [
        (
            1,
            10,
            "error",
            "AZ103",
            "version: '010' is read by YAML 1.1 as a different number (octal, sexagesimal or with separators); write plain decimal digits",
        ),
    ],
    "yaml11_null.yaml": [
        (
            4,
            18,
            "error",
            "AZ103",
            "description: YAML 1.1 reads '~' as null; quote it (\"~\") if you mean the text",
        ),
    ],
    "yaml11_misc.yaml": [
        (
            7,
            13,
            "error",
            "AZ103",
            "effect: YAML 1.1 reads 'on' as a boolean; quote it (\"on\") if you mean the text",
        ),
        (
            10,
            15,
            "error",
            "AZ103",
            "resource: YAML 1.1 reads '1:20' as a number; quote it (\"1:20\") if you mean the text",
        ),
    ],
    "deep_nesting.yaml": [
        (3, 67, "error", "AZ008", "document nests lists and mappings deeper than 64 levels"),
    ],
    "alias_bomb.yaml": [
        (
            2,
            18,
            "error",
            "AZ006",
            "document expands to too many nodes (alias expansion is bounded); remove anchors/aliases",
        ),
    ],
    "empty.yaml": [(1, 1, "error", "AZ007", "policy file is empty")],
    "syntax.yaml": [
        (
            3,
            1,
            "error",
            "AZ003",
            (
                "YAML syntax error: did not find expected node content"
                if hasattr(yaml, "CSafeLoader")
                else "YAML syntax error: expected the node content, but found '<stream end>'"
            )
            + " (while parsing a flow node): a list or mapping is not closed, or holds an empty item",
        ),
    ],
    "latin1.yaml": [(1, 1, "error", "AZ001", "policy file is not valid UTF-8 (byte 45)")],
    "version2.yaml": [
        (1, 10, "error", "AZ106", "policy language version 2 is not supported (supported: 1)"),
    ],
    "shape.yaml": [
        (
            3,
            3,
            "error",
            "AZ105",
            "role name: 'Admin' is not a valid role name (lowercase letters, digits, - and _)",
        ),
        (
            4,
            3,
            "error",
            "AZ105",
            "'anonymous' is a built-in subject and cannot be declared as a role",
        ),
        (
            8,
            26,
            "error",
            "AZ105",
            "state-changing action 'delete' must not accept GET (a link or prefetch would trigger it)",
        ),
        (
            9,
            20,
            "error",
            "AZ103",
            "action 'read' safe: write true or false, not 'yes' (YAML 1.1 spellings are ambiguous)",
        ),
        (10, 18, "error", "AZ105", "attribute name 'kind' is reserved"),
        (
            10,
            36,
            "error",
            "AZ105",
            "unknown attribute type 'integer' (one of str, int, bool, key, list, any); did you mean 'int'?",
        ),
        (13, 13, "error", "AZ105", "effect must be allow or deny, not 'permit'"),
        (17, 9, "error", "AZ102", "routes must be a mapping, not a list"),
    ],
    "undefined_refs.yaml": [
        (
            3,
            3,
            "error",
            "AZ202",
            "role 'admin' inherits undefined role 'suport'; did you mean 'support'?",
        ),
        (13, 16, "error", "AZ202", "rule 'a': undefined role 'admn'; did you mean 'admin'?"),
        (
            19,
            15,
            "error",
            "AZ204",
            "rule 'b': resource 'user' has no action 'delet'; did you mean 'delete'?",
        ),
        (25, 15, "error", "AZ203", "rule 'c': undefined resource 'users'; did you mean 'user'?"),
        (
            31,
            11,
            "error",
            "AZ205",
            "rule 'd' condition: unknown attribute resource.owner (known: id)",
        ),
    ],
    "role_cycle.yaml": [(3, 3, "error", "AZ206", "role inheritance cycle: a -> b -> c -> a")],
    "conditions.yaml": [
        (12, 40, "error", "AZ207", "condition: expected a value, found end of condition"),
        (18, 11, "error", "AZ207", "condition: function calls are not allowed (len(...))"),
        (
            24,
            27,
            "error",
            "AZ208",
            "rule 'types' condition: comparing str with int is never equal: check the types",
        ),
        (30, 30, "error", "AZ207", "condition: unexpected character ':'"),
    ],
    "duplicate_ids.yaml": [
        (6, 5, "error", "AZ201", "rule id 'same' is already used at {dir}/duplicate_ids.yaml:5:5"),
    ],
    "warnings.yaml": [
        (
            9,
            5,
            "warning",
            "AZ301",
            "rule 'editors-delete' can never take effect: rule 'nobody-deletes' denies the same without condition",
        ),
        (
            19,
            5,
            "warning",
            "AZ301",
            "rule 'anyone-deletes-anything' can never take effect: rule 'nobody-deletes' denies the same without condition",
        ),
        (
            19,
            5,
            "warning",
            "AZ302",
            "rule 'anyone-deletes-anything' lets 'authenticated' delete any doc with no ownership condition (IDOR risk): add e.g. `when: resource.owner == subject.id`",
        ),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_findings_exact(name: str) -> None:
    path = BAD / name
    policy, findings = lint_paths([path])
    expected = [
        (line, col, sev, code, msg.format(dir=BAD)) for line, col, sev, code, msg in EXPECTED[name]
    ]
    assert [(f.line, f.column, f.severity, f.code, f.message) for f in findings] == expected
    assert all(f.file == str(path) for f in findings)
    has_errors = any(sev == "error" for _, _, sev, _, _ in expected)
    assert (policy is None) == has_errors


def test_every_fixture_is_checked() -> None:
    assert {p.name for p in BAD.glob("*.yaml")} == set(EXPECTED)


def test_load_policy_raises_with_all_findings() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy([BAD / "shape.yaml"])
    assert len(info.value.findings) == len(EXPECTED["shape.yaml"])
    assert "shape.yaml:3:3: error: role name" in str(info.value)


def test_findings_of_several_files_are_reported_together() -> None:
    _, findings = lint_paths(
        [BAD / "unknown_key.yaml", BAD / "yaml11_bool.yaml", BAD / "role_cycle.yaml"]
    )
    codes = {(Path(f.file).name, f.code) for f in findings}
    assert ("unknown_key.yaml", "AZ101") in codes
    assert ("yaml11_bool.yaml", "AZ103") in codes
    assert ("role_cycle.yaml", "AZ206") in codes


def test_definitions_may_not_repeat_across_files(tmp_path: Path) -> None:
    body = "version: 1\nresources:\n  doc: {actions: [read]}\n"
    (tmp_path / "a.yaml").write_text(body)
    (tmp_path / "b.yaml").write_text(body)
    _, findings = lint_paths([tmp_path])
    assert [f.format() for f in findings] == [
        f"{tmp_path / 'b.yaml'}:3:3: error: resource 'doc' is already defined at {tmp_path / 'a.yaml'}:3:3 [AZ209]"
    ]


def test_a_50_megabyte_file_fails_fast_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.seek(50 * 1024 * 1024)
        handle.write(b"\n")
    _, findings = lint_paths([big])
    assert [f.format() for f in findings] == [
        f"{big}:1:1: error: policy file is larger than the 1048576-byte limit [AZ002]"
    ]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    _, findings = lint_paths([tmp_path / "nope.yaml", tmp_path])
    assert [(Path(f.file).name, f.code, f.message) for f in findings] == [
        (tmp_path.name, "AZ001", "directory holds no .yaml policy files"),
        ("nope.yaml", "AZ001", "no such policy file or directory"),
    ]


def test_role_inheritance_deeper_than_casbin_follows(tmp_path: Path) -> None:
    roles = "".join(f"  r{i}: {{inherits: [r{i + 1}]}}\n" for i in range(11)) + "  r11: {}\n"
    path = tmp_path / "deep.yaml"
    path.write_text(f"version: 1\nroles:\n{roles}")
    _, findings = lint_paths([path])
    assert {f.code for f in findings} == {"AZ206"}
    assert findings[0].message == "role 'r0' inherits through 11 levels; at most 9 are supported"


def test_quoted_condition_columns_point_inside_the_text(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(
        "version: 1\nresources:\n  doc: {actions: [read], attributes: {n: int}}\n"
        "rules:\n  - {id: a, effect: allow, subjects: ['*'], actions: [read], resource: doc,\n"
        '     when: "resource.n == 1 or"}\n'
    )
    _, findings = lint_paths([path])
    (finding,) = findings
    # The quote is at column 12, so the text starts at 13; the problem is at its end (+18).
    assert (finding.line, finding.column, finding.code) == (6, 13 + 18, "AZ207")


def test_policies_directory_lints_clean_and_compiles() -> None:
    # Every policy file of policies/; its test suites (*_test.yaml) are not policy.
    files, problems = policy_files([ROOT / "policies"])
    assert problems == []
    assert ROOT / "policies" / "demo.yaml" in files
    assert not [p for p in files if p.stem.endswith("_test")]
    for path in files:
        policy, findings = lint_paths([path])
        assert findings == [], [f.format() for f in findings]
        assert policy is not None
        assert compile_policy(policy).casbin_rows()


def test_test_policies_lint_clean() -> None:
    _, findings = lint_paths([ROOT / "tests" / "policies"])
    assert findings == [], [f.format() for f in findings]


def test_codes_are_unique_documented_and_used() -> None:
    docs = (ROOT / "docs" / "policy-language.md").read_text()
    assert len(set(CODES.values())) == len(CODES)
    for code in CODES:
        assert re.match(r"^AZ\d{3}$", code)
        assert code in docs, f"{code} is not documented"


def test_reload_sees_every_edit_even_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    import os

    path = tmp_path / "p.yaml"
    allow = "version: 1\nresources:\n  doc: {actions: [read]}\nrules:\n  - {id: r, effect: allow, subjects: ['*'], actions: [read], resource: doc}\n"
    path.write_text(allow)
    stat = path.stat()
    first = load_policy([path])
    assert (
        load_policy([path]).rules == first.rules
    )  # unchanged bytes: the checked document is reused
    path.write_text(allow.replace("allow,", "deny, "))  # same length
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert load_policy([path]).rules[0].effect == "deny"
