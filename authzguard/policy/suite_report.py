"""How ``authzguard test`` prints a run: readable text, JSON, or JUnit XML for CI."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from authzguard.policy.model import Rule
from authzguard.policy.suites import CaseResult, Report


def _rule_line(rule: Rule, detail: str = "") -> str:
    extra = f"  {detail}" if detail else ""
    return f"  {rule.id}  {rule.position}{extra}"


def summary(report: Report) -> list[str]:
    """The counts and coverage lines (also what the pytest plugin shows)."""
    total, failed = len(report.results), len(report.failures)
    decided = len(report.rules) - len(report.uncovered)
    return [
        f"{total} case(s): {total - failed} passed, {failed} failed"
        f" ({len(report.files)} suite file(s))",
        f"rule coverage: {report.coverage:.1f}% ({decided} of {len(report.rules)} rules"
        " decided a case)",
    ]


def text(report: Report) -> str:
    lines = [f"FAIL {_where(r)} {r.name}: {r.problem()}" for r in report.failures]
    lines += summary(report)
    sections = (
        ("rules that decided no case", [_rule_line(r) for r in report.uncovered]),
        ("conditions never true", [_condition(r) for r in report.never_true]),
        ("conditions never false", [_condition(r) for r in report.never_false]),
    )
    for title, rows in sections:
        if rows:
            lines.append(f"{title} ({len(rows)}):")
            lines.extend(rows)
    return "\n".join(lines)


def _where(result: CaseResult) -> str:
    return str(result.expectation.position)


def _condition(rule: Rule) -> str:
    assert rule.when is not None
    return _rule_line(rule, rule.when.source)


def as_json(report: Report) -> str:
    def rule(r: Rule) -> dict[str, object]:
        data: dict[str, object] = {"rule": r.id, "position": str(r.position)}
        if r.when is not None:
            data["condition"] = r.when.source
        return data

    return json.dumps(
        {
            "passed": not report.failures,
            "cases": len(report.results),
            "failed": len(report.failures),
            "coverage": round(report.coverage, 2),
            "results": [
                {
                    "suite": r.suite,
                    "test": r.test,
                    "principal": r.principal,
                    "resource": r.resource,
                    "action": r.expectation.action,
                    "expected": "allow" if r.expectation.allow else "deny",
                    "expected_rule": r.expectation.rule,
                    "allowed": r.decision.allowed,
                    "rule": r.decision.rule,
                    "reason": r.decision.reason,
                    "passed": r.passed,
                    "position": str(r.expectation.position),
                }
                for r in report.results
            ],
            "rules_deciding_no_case": [rule(r) for r in report.uncovered],
            "conditions_never_true": [rule(r) for r in report.never_true],
            "conditions_never_false": [rule(r) for r in report.never_false],
        },
        indent=2,
    )


def junit(report: Report) -> str:
    """One ``testsuite`` per suite file, one ``testcase`` per case."""
    root = ET.Element("testsuites", name="authzguard", tests=str(len(report.results)))
    root.set("failures", str(len(report.failures)))
    for file in report.files:
        results = [r for r in report.results if r.suite == file]
        suite = ET.SubElement(root, "testsuite", name=file, tests=str(len(results)))
        suite.set("failures", str(sum(not r.passed for r in results)))
        for result in results:
            case = ET.SubElement(suite, "testcase", name=result.name, classname=file)
            case.set("file", result.expectation.position.file)
            case.set("line", str(result.expectation.position.line))
            if not result.passed:
                failure = ET.SubElement(case, "failure", message=result.problem())
                failure.text = f"{_where(result)}: {result.problem()}"
        ET.SubElement(suite, "system-out").text = "\n".join(summary(report))
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
