"""Policy tests: YAML suites of named principals, resources and expected decisions.

A suite file (``*_test.yaml``, or any ``.yaml`` under a ``tests/`` directory of the
policy directory) is never loaded as policy. It reads::

    principals:                 # Django facts, as `authzguard explain --subject` takes them
      alice: {id: 2}
      root: {id: 1, superuser: true}
      support: "id=3,groups=support"
      visitor: anonymous
    resources:
      alices-sessions: {kind: session, owner: 2}
    tests:
      - name: people end their own sessions
        principals: [alice]     # or principal: alice
        resources: [alices-sessions]
        actions:
          end: {expect: allow, rule: end-own-sessions}
          view: allow

Every principal x resource x action of a test is one case. Running the suites reports
each failure, and coverage: the share of rules that decided at least one case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.explain import explain
from authzguard.policy.facts import (
    UsageError,
    check_action,
    check_facts,
    did_you_mean,
    facts_from_mapping,
    parse_facts,
    resource_from_mapping,
    subject_from_facts,
)
from authzguard.policy.findings import Finding
from authzguard.policy.loader import is_policy_test_file
from authzguard.policy.model import Decision, Position, Resource, Rule, Subject
from authzguard.policy.source import (
    DEFAULT_MAX_BYTES,
    Mapping,
    Node,
    Scalar,
    parse_bytes,
    read_bytes,
)
from authzguard.policy.source import (
    Sequence as SequenceNode,
)

_TOP_KEYS = ("description", "principals", "resources", "tests")
_TEST_KEYS = ("name", "principal", "principals", "resource", "resources", "actions")
_INT = re.compile(r"-?(0|[1-9][0-9]{0,17})")


class SuiteError(Exception):
    """A suite file that cannot be run: every problem, with file, line and column."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("\n".join(f.format() for f in self.findings))


@dataclass(frozen=True, slots=True)
class Expectation:
    action: str
    allow: bool
    #: The id of the rule that must decide, if the suite names one.
    rule: str | None
    position: Position


@dataclass(frozen=True, slots=True)
class PolicyTest:
    name: str
    principals: tuple[str, ...]
    resources: tuple[str, ...]
    expectations: tuple[Expectation, ...]
    position: Position


@dataclass(frozen=True, slots=True)
class Suite:
    file: str
    principals: dict[str, Subject]
    resources: dict[str, Resource]
    tests: tuple[PolicyTest, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One principal x resource x action of a test, and what the policy decided."""

    suite: str
    test: str
    principal: str
    resource: str
    expectation: Expectation
    decision: Decision

    @property
    def passed(self) -> bool:
        e = self.expectation
        return self.decision.allowed == e.allow and (e.rule is None or e.rule == self.decision.rule)

    @property
    def name(self) -> str:
        return f"{self.test} [{self.principal} {self.expectation.action} {self.resource}]"

    def problem(self) -> str:
        """Why the case failed, in words (empty when it passed)."""
        if self.passed:
            return ""
        e, d = self.expectation, self.decision
        want = ("allow" if e.allow else "deny") + (f" by rule {e.rule!r}" if e.rule else "")
        by = f"rule {d.rule!r}" if d.rule else "no rule"
        got = f"{'allow' if d.allowed else 'deny'} by {by} ({d.reason})"
        return f"expected {want}, got {got}"


@dataclass(frozen=True, slots=True)
class Report:
    results: tuple[CaseResult, ...]
    rules: tuple[Rule, ...]
    #: Ids of the rules that decided at least one case.
    deciding: frozenset[str]
    #: Ids of the rules whose condition held, and was false (or failed), in some case.
    held: frozenset[str]
    not_held: frozenset[str]
    files: tuple[str, ...] = field(default=())

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def coverage(self) -> float:
        """Percent of rules that decided at least one case (100 for a policy with none)."""
        if not self.rules:
            return 100.0
        return 100.0 * sum(r.id in self.deciding for r in self.rules) / len(self.rules)

    @property
    def uncovered(self) -> list[Rule]:
        return [r for r in self.rules if r.id not in self.deciding]

    @property
    def never_true(self) -> list[Rule]:
        return [r for r in self.rules if r.when is not None and r.id not in self.held]

    @property
    def never_false(self) -> list[Rule]:
        return [r for r in self.rules if r.when is not None and r.id not in self.not_held]


# -- finding suite files --------------------------------------------------------------------


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def split_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """Policy paths and suite files among ``paths``.

    A directory is a policy directory: its ``*_test.yaml`` files and every YAML file
    under its ``tests/`` directory are suites. A ``*_test.yaml`` file is a suite.
    """
    policy: list[Path] = []
    suites: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            policy.append(path)
            suites.extend(p for p in sorted(path.iterdir()) if is_policy_test_file(p))
            if (path / "tests").is_dir():
                suites.extend(_yaml_files(path / "tests"))
        elif is_policy_test_file(path):
            suites.append(path)
        else:
            policy.append(path)
    return policy, suites


def policy_dir_of(suite: Path) -> Path:
    """The policy directory of a suite file: the parent of the ``tests/`` directory it is
    under, else its own directory."""
    for ancestor in suite.parents:
        if ancestor.name == "tests":
            return ancestor.parent
    return suite.parent


def suite_files(tests: Path) -> list[Path]:
    """Every YAML file under ``tests`` (``--tests DIR``), or that file itself."""
    return _yaml_files(tests) if tests.is_dir() else [tests]


# -- reading a suite ------------------------------------------------------------------------


class _Reader:
    def __init__(self, file: str, compiled: CompiledPolicy) -> None:
        self.file = file
        self.compiled = compiled
        self.findings: list[Finding] = []
        #: Principals and resources already reported as wrong: tests naming them say nothing more.
        self.broken: set[str] = set()

    def error(self, node: Node, message: str) -> None:
        self.findings.append(Finding(self.file, node.line, node.column, "error", "", message))

    def mapping(
        self, node: Node | None, where: str, keys: Sequence[str] | None = None
    ) -> Mapping | None:
        """``node`` if it is a mapping; ``keys`` are the keys allowed (``None``: any)."""
        if not isinstance(node, Mapping):
            if node is not None:
                self.error(node, f"{where} must be a mapping")
            return None
        if keys is None:
            return node
        for key, _ in node.items:
            if key.text not in keys:
                self.error(
                    key, f"unknown key {key.text!r} in {where}{did_you_mean(key.text, keys)}"
                )
        return node

    def value(self, node: Node, where: str) -> object:
        """A YAML value as a Python value: text, integers, true/false, null, lists."""
        if isinstance(node, SequenceNode):
            return [self.value(item, where) for item in node.items]
        if isinstance(node, Mapping):
            self.error(node, f"{where}: a mapping is not a value")
            return None
        assert isinstance(node, Scalar)
        kind = node.implicit_type
        if kind == "str":
            return node.text
        if kind == "int" and _INT.fullmatch(node.text):
            return int(node.text)
        if kind == "bool" and node.text in ("true", "false"):
            return node.text == "true"
        if kind == "null" and node.text in ("null", "~", ""):
            return None
        self.error(
            node, f"{where}: {node.text!r} is ambiguous in YAML; quote it, or write true/false"
        )
        return None

    def names(self, node: Node | None, where: str) -> list[tuple[str, Node]]:
        items = node.items if isinstance(node, SequenceNode) else (node,) if node else ()
        out: list[tuple[str, Node]] = []
        for item in items:
            if isinstance(item, Scalar) and item.text:
                out.append((item.text, item))
            else:
                self.error(item, f"{where}: expected a name or a list of names")
        return out

    # -- sections --

    def principals(self, node: Node | None) -> dict[str, Subject]:
        out: dict[str, Subject] = {}
        section = self.mapping(node, "principals")
        for key, spec in section.items if section else ():
            where = f"principal {key.text!r}"
            try:
                if isinstance(spec, Scalar):
                    facts = parse_facts(spec.text, where)
                elif isinstance(spec, Mapping):
                    data = {k.text: self.value(v, where) for k, v in spec.items}
                    facts = facts_from_mapping(data, where)
                else:
                    self.error(spec, f"{where}: write facts as a mapping or id=7,staff=true")
                    continue
                check_facts(self.compiled, facts, where)
            except UsageError as exc:
                self.error(spec, str(exc))
                self.broken.add(key.text)
                continue
            out[key.text] = subject_from_facts(self.compiled, facts)
        return out

    def resources(self, node: Node | None) -> dict[str, Resource]:
        out: dict[str, Resource] = {}
        section = self.mapping(node, "resources")
        for key, spec in section.items if section else ():
            where = f"resource {key.text!r}"
            if not isinstance(spec, Mapping) or not isinstance(spec.get("kind"), Scalar):
                self.error(spec, f"{where}: write {{kind: KIND, attribute: value, ...}}")
                self.broken.add(key.text)
                continue
            data = {k.text: self.value(v, where) for k, v in spec.items if k.text != "kind"}
            kind = spec["kind"]
            assert isinstance(kind, Scalar)
            try:
                out[key.text] = resource_from_mapping(self.compiled, kind.text, data, where)
            except UsageError as exc:
                self.error(spec, str(exc))
                self.broken.add(key.text)
        return out

    def test(
        self, node: Node, principals: dict[str, Subject], resources: dict[str, Resource]
    ) -> PolicyTest | None:
        spec = self.mapping(node, "a test", _TEST_KEYS)
        if spec is None:
            return None
        name_node = spec.get("name")
        name = name_node.text if isinstance(name_node, Scalar) and name_node.text else ""
        if not name:
            self.error(node, "a test needs a name")
        who = self.names(spec.get("principal") or spec.get("principals"), f"test {name!r}")
        what = self.names(spec.get("resource") or spec.get("resources"), f"test {name!r}")
        if not who or not what:
            self.error(node, f"test {name!r}: name its principals and resources")
        for label, known, table in (("principal", who, principals), ("resource", what, resources)):
            for item, item_node in known:
                if item not in table and item not in self.broken:
                    hint = did_you_mean(item, table)
                    self.error(item_node, f"test {name!r}: no {label} {item!r}{hint}")
        kinds = {resources[r].kind for r, _ in what if r in resources}
        expectations = self.expectations(spec.get("actions"), name, kinds)
        if not isinstance(spec.get("actions"), Mapping):
            self.error(node, f"test {name!r}: expects nothing (add actions: {{ACTION: allow}})")
        return PolicyTest(
            name,
            tuple(n for n, _ in who),
            tuple(n for n, _ in what),
            tuple(expectations),
            Position(self.file, node.line, node.column),
        )

    def expectations(self, node: Node | None, test: str, kinds: set[str]) -> list[Expectation]:
        out: list[Expectation] = []
        section = self.mapping(node, f"test {test!r}: actions")
        for key, spec in section.items if section else ():
            where = f"test {test!r}: action {key.text!r}"
            try:
                for kind in sorted(kinds):
                    check_action(self.compiled, kind, key.text, where)
            except UsageError as exc:
                self.error(key, str(exc))
            expect_node: Node | None = spec
            rule: str | None = None
            if isinstance(spec, Mapping):
                self.mapping(spec, where, ("expect", "rule"))
                expect_node = spec.get("expect")
                rule_node = spec.get("rule")
                if isinstance(rule_node, Scalar):
                    rule = rule_node.text
                    ids = [r.id for r in self.compiled.policy.rules]
                    if rule not in ids:
                        self.error(rule_node, f"{where}: no rule {rule!r}{did_you_mean(rule, ids)}")
            if not isinstance(expect_node, Scalar) or expect_node.text not in ("allow", "deny"):
                self.error(expect_node or spec, f"{where}: expect allow or deny")
                continue
            position = Position(self.file, key.line, key.column)
            out.append(Expectation(key.text, expect_node.text == "allow", rule, position))
        return out


def read_suite(
    path: Path, compiled: CompiledPolicy, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Suite:
    """Read and check one suite file against the policy; ``SuiteError`` lists every problem."""
    name = str(path)
    raw, problems = read_bytes(path, name, max_bytes)
    tree = None
    if raw is not None:
        tree, problems = parse_bytes(raw, name)
    if tree is None or problems:
        raise SuiteError(problems or [Finding(name, 1, 1, "error", "AZ007", "empty suite file")])
    reader = _Reader(name, compiled)
    top = reader.mapping(tree, "a suite file", _TOP_KEYS)
    if top is None:
        raise SuiteError(reader.findings)
    principals = reader.principals(top.get("principals"))
    resources = reader.resources(top.get("resources"))
    tests_node = top.get("tests")
    tests: list[PolicyTest] = []
    if not isinstance(tests_node, SequenceNode) or not tests_node.items:
        reader.error(tests_node or top, "a suite needs a list of tests")
    else:
        for item in tests_node.items:
            test = reader.test(item, principals, resources)
            if test is not None and test.name in {t.name for t in tests}:
                reader.error(item, f"a second test named {test.name!r}")
            elif test is not None:
                tests.append(test)
    if reader.findings:
        raise SuiteError(sorted(reader.findings, key=lambda f: f.sort_key))
    description = top.get("description")
    text = description.text if isinstance(description, Scalar) else ""
    return Suite(name, principals, resources, tuple(tests), text)


# -- running --------------------------------------------------------------------------------


def run_suites(compiled: CompiledPolicy, suites: Sequence[Suite]) -> Report:
    """Decide every case of every suite; record which rules decided and how conditions went."""
    results: list[CaseResult] = []
    deciding: set[str] = set()
    held: set[str] = set()
    not_held: set[str] = set()
    for suite in suites:
        for test in suite.tests:
            for principal in test.principals:
                subject = suite.principals[principal]
                for resource_name in test.resources:
                    resource = suite.resources[resource_name]
                    for expectation in test.expectations:
                        why = explain(compiled, subject, expectation.action, resource)
                        for step in why.steps:
                            if step.rule.when is None or step.outcome == "subject-mismatch":
                                continue
                            (held if step.outcome == "matched" else not_held).add(step.rule.id)
                        decision = why.decision
                        if decision.rule is not None:
                            deciding.add(decision.rule)
                        results.append(
                            CaseResult(
                                suite.file,
                                test.name,
                                principal,
                                resource_name,
                                expectation,
                                decision,
                            )
                        )
    return Report(
        tuple(results),
        compiled.policy.rules,
        frozenset(deciding),
        frozenset(held),
        frozenset(not_held),
        tuple(s.file for s in suites),
    )
