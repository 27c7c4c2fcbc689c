"""Generated worst cases for the loader: bounded work, and only ``PolicyError`` on failure.

Each bound is a ratio against a bare ``yaml.load(..., Loader=CSafeLoader)`` of the same
bytes measured in the same test (the best of three runs of each, so a busy machine
slows both sides), with a generous factor and a small absolute slack. A run that
exceeds a hard deadline is stopped by a timer, so a regression fails instead of hanging.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from authzguard.cli import main
from authzguard.exceptions import PolicyError
from authzguard.policy import compile_policy, lint_paths, load_policy
from authzguard.policy.findings import Finding
from tests import policy_worst_cases as worst

FACTOR = 3.0
SLACK_S = 0.05
_names = itertools.count()


class TooSlow(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ``TooSlow`` in this (main) thread once ``seconds`` have passed."""

    def expire(signum: int, frame: object) -> None:
        raise TooSlow(f"still running after {seconds:.1f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def best_of_three(runs: tuple[Callable[[], object], ...], limit: float) -> list[float]:
    """The best of three timings of each call, interleaved so load spikes hit all alike."""
    best = [float("inf")] * len(runs)
    for _ in range(3):
        for i, run in enumerate(runs):
            with deadline(limit):
                start = time.perf_counter()
                run()
                best[i] = min(best[i], time.perf_counter() - start)
    return best


def lint_and_compile(text: str, directory: Path) -> list[Finding]:
    # A fresh file name each run: the loader remembers documents by path and content.
    path = directory / f"p{next(_names)}.yaml"
    path.write_text(text)
    policy, findings = lint_paths([path])
    if policy is not None:
        compile_policy(policy)
    return findings


def assert_bounded(text: str, directory: Path) -> list[Finding]:
    """Lint and compile ``text`` within FACTOR x a bare CSafeLoader load, plus slack."""
    [bare] = best_of_three((lambda: yaml.load(text, Loader=yaml.CSafeLoader),), 30)
    findings: list[Finding] = []

    def run() -> None:
        findings[:] = lint_and_compile(text, directory)

    bare, spent = best_of_three(
        (lambda: yaml.load(text, Loader=yaml.CSafeLoader), run), max(2.0, 10 * FACTOR * bare)
    )
    allowed = FACTOR * bare + SLACK_S
    assert spent <= allowed, (
        f"lint+compile {spent * 1000:.0f} ms against bare yaml.load {bare * 1000:.0f} ms "
        f"({len(text) // 1024} KB)"
    )
    return findings


def per_file_counts(findings: list[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.file] = counts.get(f.file, 0) + 1
    return counts


@pytest.mark.parametrize("name", sorted(worst.GENERATORS))
def test_worst_case_costs_a_bounded_multiple_of_reading_the_yaml(name: str, tmp_path: Path) -> None:
    generate, scale = worst.GENERATORS[name]
    findings = assert_bounded(generate(scale), tmp_path)
    assert all(count <= 101 for count in per_file_counts(findings).values())


def test_wide_diamonds_load_and_compile(tmp_path: Path) -> None:
    # 10 layers of 8 roles, each inheriting all 8 below: 8 ** 9 paths from the top.
    findings = assert_bounded(worst.layers(8), tmp_path)
    assert [f.code for f in findings] == ["AZ301"]  # the top allow is shadowed, nothing else
    path = tmp_path / "layers.yaml"
    path.write_text(worst.layers(8))
    compiled = compile_policy(load_policy([path]))
    from authzguard.policy import Subject

    top = Subject(id=1, roles=frozenset({"l9-0"}), authenticated=True)
    assert "l0-7" in compiled.effective_roles(top)


def test_a_long_chain_is_a_policy_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "chain.yaml"
    path.write_text(worst.chain(1_200))
    with deadline(20), pytest.raises(PolicyError) as info:
        load_policy([path])
    findings = info.value.findings
    assert findings[0].message == "role 'c10' inherits through 10 levels; at most 9 are supported"
    assert len(findings) == 101
    assert findings[-1].code == "AZ009"
    assert findings[-1].message.startswith("1090 more findings from here on are not shown")


def test_lint_of_a_long_chain_prints_findings_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "chain.yaml"
    path.write_text(worst.chain(1_200))
    with deadline(20):
        assert main(["lint", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "inherits through 10 levels" in out


def test_many_typos_are_capped_and_the_first_get_hints(tmp_path: Path) -> None:
    findings = assert_bounded(worst.typos(1_000), tmp_path)
    assert len(findings) == 101
    assert findings[0].message == (
        "rule 'r0': undefined role 'team-membr-0'; did you mean 'team-member-0'?"
    )
    assert findings[-1].code == "AZ009"
    assert findings[-1].severity == "error"


def test_cycles_are_reported_once_per_group_of_roles(tmp_path: Path) -> None:
    findings = assert_bounded(worst.cycle(1_000), tmp_path)
    messages = [f.message for f in findings]
    assert len(messages) == 2
    assert messages[0].startswith("role inheritance cycle: c0 -> c1 -> c2 -> ")
    assert messages[0].endswith(" -> c999 -> c0")
    assert messages[1] == "role inheritance cycle: k0 -> k1 -> k0"


def test_an_inheritance_closure_past_its_budget_is_refused(tmp_path: Path) -> None:
    findings = assert_bounded(worst.fan(900, shared=False), tmp_path)
    assert [f.code for f in findings] == ["AZ210"]
    assert findings[0].message.startswith("role inheritance is too large to check")


def test_a_shadowed_allow_names_every_deny_that_covers_it(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nroles:\n  a: {}\n  b: {inherits: [a]}\n"
        "resources:\n  doc: {actions: [read, edit], attributes: {owner: key}}\n"
        "rules:\n"
        "  - {id: allow, effect: allow, subjects: [b], actions: [read, edit], resource: doc,"
        " when: resource.owner == subject.id}\n"
        "  - {id: no-read, effect: deny, subjects: [a], actions: [read], resource: doc}\n"
        "  - {id: no-edit, effect: deny, subjects: ['*'], actions: [edit], resource: doc}\n"
    )
    _, findings = lint_paths([path])
    assert [f.message for f in findings] == [
        "rule 'allow' can never take effect: rules 'no-read', 'no-edit' deny the same "
        "without condition"
    ]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            'roles:\n  "authenticated\\n": {}\n',
            "role name: 'authenticated\\n' is not a valid role name (lowercase letters, digits, - and _)",
        ),
        (
            "resources:\n  doc: {actions: [read]}\n"
            'rules:\n  - {id: "r\\n", effect: allow, subjects: ["*"], actions: [read], resource: doc}\n',
            "rule id: 'r\\n' is not a valid rule id (lowercase letters, digits, . _ : -)",
        ),
        (
            "resources:\n  doc: {actions: [read]}\n"
            'rules:\n  - {id: r, effect: allow, subjects: ["editor\\n"], actions: [read], resource: doc}\n',
            "subjects: 'editor\\n' is not a valid subject",
        ),
    ],
)
def test_names_may_not_end_in_a_newline(tmp_path: Path, snippet: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\n" + snippet)
    policy, findings = lint_paths([path])
    assert policy is None
    assert [(f.code, f.message) for f in findings] == [("AZ105", message)]


def test_a_large_file_without_aliases_is_not_refused_for_its_node_count(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    text = worst.rules(12_000, conditions=False)
    assert 900_000 < len(text) < 1024 * 1024  # within the default size limit
    path.write_text(text)
    policy = load_policy([path])
    assert len(policy.rules) == 12_000


def test_too_many_nodes_says_what_happened(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(worst.rules(100))
    with pytest.raises(PolicyError) as info:
        load_policy([path], max_nodes=500)
    [finding] = info.value.findings
    assert finding.code == "AZ006"
    assert finding.message == (
        "document has more than 500 nodes, the limit for one file; "
        "split it into several files or raise the limit"
    )
