"""``authzguard`` command line: lint, explain, plan, test, compile, diff, matrix and replay
policies, without Django.

Exit codes: 0 success, 1 policy errors, lint findings that fail or failing policy tests,
2 usage errors, 3 a deny from ``explain --exit-code``. ``diff --fail-on widen``, ``matrix
--check`` and ``replay --fail-on flip`` exit 1 when they find what they look for.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from authzguard.exceptions import PolicyError
from authzguard.policy import compile_policy, lint_paths, load_policy
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.conditions import to_text
from authzguard.policy.explain import explain
from authzguard.policy.facts import (
    Facts,
    UsageError,
    check_action,
    check_facts,
    check_kind,
    parse_facts,
    parse_facts_json,
    parse_resource,
    parse_resource_json,
    subject_from_facts,
)
from authzguard.policy.findings import Finding
from authzguard.policy.model import Resource

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3


def _print_findings(findings: Sequence[Finding], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([f.as_dict() for f in findings], indent=2))
        return
    if fmt in ("github", "sarif"):
        from authzguard import lint_formats

        text = lint_formats.github(findings) if fmt == "github" else lint_formats.sarif(findings)
        if text:
            print(text)
        return
    for finding in findings:
        print(finding.format())
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)


def _load(paths: Sequence[str]) -> CompiledPolicy:
    return compile_policy(load_policy(paths))


def cmd_lint(args: argparse.Namespace) -> int:
    _, findings = lint_paths(args.paths)
    _print_findings(findings, args.format)
    failing = [f for f in findings if f.severity == "error" or args.strict]
    return EXIT_ERRORS if failing else EXIT_OK


def _subject_facts(args: argparse.Namespace) -> Facts:
    if args.subject_json is not None:
        return parse_facts_json(args.subject_json)
    return parse_facts(args.subject)


def _resource(compiled: CompiledPolicy, args: argparse.Namespace) -> Resource:
    if args.resource_json is not None:
        return parse_resource_json(compiled, args.resource_json)
    return parse_resource(compiled, args.resource)


def cmd_explain(args: argparse.Namespace) -> int:
    compiled = _load(args.paths)
    if args.engine == "casbin":
        from authzguard.enforcer import with_casbin

        compiled = with_casbin(compiled)
    facts = _subject_facts(args)
    check_facts(compiled, facts)
    resource = _resource(compiled, args)
    if args.all_actions:
        actions = list(compiled.policy.resources[resource.kind].actions)
    else:
        check_action(compiled, resource.kind, args.action)
        actions = [args.action]
    subject = subject_from_facts(compiled, facts)
    results = [explain(compiled, subject, action, resource) for action in actions]
    if args.format == "json":
        documents = [
            {"action": action, **result.as_dict(), "policy_version": compiled.version}
            for action, result in zip(actions, results, strict=True)
        ]
        for document in documents:
            document["subject"] = facts.as_dict()
        print(json.dumps(documents if args.all_actions else documents[0], indent=2))
    else:
        for action, result in zip(actions, results, strict=True):
            if args.all_actions:
                print(f"== {resource.kind} {action} ==")
            print("\n".join(result.lines()))
    denied = any(not result.decision.allowed for result in results)
    return EXIT_DENIED if args.exit_code and denied else EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from authzguard.policy import suite_report, suites

    policy_paths, files = suites.split_paths(args.paths)
    for tests in args.tests:
        files.extend(suites.suite_files(Path(tests)))
    if not files:
        where = ", ".join([*args.paths, *args.tests])
        raise UsageError(f"no policy test files (*_test.yaml, or under tests/) in {where}")
    if not policy_paths:
        raise UsageError("no policy files or directories given, only tests")
    compiled = _load([str(p) for p in policy_paths])
    read: list[suites.Suite] = []
    problems: list[Finding] = []
    for file in dict.fromkeys(files):
        try:
            read.append(suites.read_suite(file, compiled))
        except suites.SuiteError as exc:
            problems.extend(exc.findings)
    if problems:
        for finding in problems:
            code = f" [{finding.code}]" if finding.code else ""
            print(f"{finding.file}:{finding.line}:{finding.column}: error: {finding.message}{code}")
        return EXIT_ERRORS
    report = suites.run_suites(compiled, read)
    formats = {"json": suite_report.as_json, "junit": suite_report.junit}
    print(formats.get(args.format, suite_report.text)(report))
    low = args.min_coverage is not None and report.coverage < args.min_coverage
    if low:
        print(
            f"rule coverage {report.coverage:.1f}% is below --min-coverage {args.min_coverage:g}%",
            file=sys.stderr,
        )
    return EXIT_ERRORS if report.failures or low else EXIT_OK


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("a percentage between 0 and 100")
    return value


def cmd_plan(args: argparse.Namespace) -> int:
    from authzguard.policy.plan import residual

    compiled = _load(args.paths)
    facts = _subject_facts(args)
    check_facts(compiled, facts)
    check_kind(compiled, args.resource)
    check_action(compiled, args.resource, args.action)
    plan = residual(compiled, subject_from_facts(compiled, facts), args.action, args.resource)
    if args.format == "json":
        rules = {"denies": plan.denies, "allows": plan.allows}
        print(
            json.dumps(
                {
                    "plan": plan.text(),
                    "reason": plan.reason,
                    **{
                        key: [{"rule": r.id, "condition": to_text(node)} for r, node in pairs]
                        for key, pairs in rules.items()
                    },
                },
                indent=2,
            )
        )
    else:
        print(plan.text())
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    compiled = _load(args.paths)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.conf").write_text(compiled.casbin_model(), encoding="utf-8")
    (out / "policy.csv").write_text(compiled.casbin_policy_csv(), encoding="utf-8")
    rows = len(compiled.casbin_rows())
    print(
        f"wrote {out / 'model.conf'} and {out / 'policy.csv'} ({rows} rows, version {compiled.version[:12]})"
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="authzguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    lint = sub.add_parser("lint", help="check policy files; one line per finding")
    lint.add_argument("paths", nargs="+", metavar="PATH")
    lint.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif"),
        default="text",
        help="github: workflow-command annotations; sarif: a SARIF 2.1.0 log for code scanning",
    )
    lint.add_argument("--strict", action="store_true", help="warnings fail too")
    lint.set_defaults(func=cmd_lint)

    exp = sub.add_parser("explain", help="decide one request and show the reasoning")
    exp.add_argument("paths", nargs="+", metavar="PATH")
    who = exp.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--subject",
        help="Django facts: id=7,staff=true,superuser=false,groups=support+finance"
        " (and/or roles=NAME+NAME), or anonymous",
    )
    who.add_argument("--subject-json", metavar="JSON", help='the same facts as JSON: {"id": 7}')
    what = exp.add_mutually_exclusive_group(required=True)
    what.add_argument("--action")
    what.add_argument("--all-actions", action="store_true", help="every action of the kind")
    target = exp.add_mutually_exclusive_group(required=True)
    target.add_argument("--resource", help="kind:attr=value,... e.g. user:id=9,owner=9")
    target.add_argument("--resource-json", metavar="JSON", help='{"kind": "user", "id": 9}')
    exp.add_argument("--exit-code", action="store_true", help="exit 3 when any decision is deny")
    exp.add_argument("--engine", choices=("indexed", "casbin"), default="indexed")
    exp.add_argument("--format", choices=("text", "json"), default="text")
    exp.set_defaults(func=cmd_explain)

    plan = sub.add_parser("plan", help="what a subject's access to a kind depends on")
    plan.add_argument("paths", nargs="+", metavar="PATH")
    plan_who = plan.add_mutually_exclusive_group(required=True)
    plan_who.add_argument(
        "--subject", help="Django facts, as for explain: id=7,groups=finance or anonymous"
    )
    plan_who.add_argument("--subject-json", metavar="JSON", help="the same facts as JSON")
    plan.add_argument("--action", required=True)
    plan.add_argument("--resource", required=True, metavar="KIND")
    plan.add_argument("--format", choices=("text", "json"), default="text")
    plan.set_defaults(func=cmd_plan)

    test = sub.add_parser("test", help="run policy test suites; report failures and coverage")
    test.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        default=["policies"],
        help="policy files or directories (default: policies); their *_test.yaml files"
        " and tests/ directories hold the suites",
    )
    test.add_argument(
        "--tests", action="append", default=[], metavar="DIR", help="more suites, anywhere"
    )
    test.add_argument("--format", choices=("text", "json", "junit"), default="text")
    test.add_argument(
        "--min-coverage",
        type=_percent,
        metavar="N",
        help="fail when fewer than N%% of the rules decide a case",
    )
    test.set_defaults(func=cmd_test)

    comp = sub.add_parser("compile", help="write the Casbin model.conf and policy.csv")
    comp.add_argument("paths", nargs="+", metavar="PATH")
    comp.add_argument("--out", required=True, metavar="DIR")
    comp.set_defaults(func=cmd_compile)

    from authzguard import cli_review

    cli_review.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"authzguard {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PolicyError as exc:
        _print_findings(exc.findings, getattr(args, "format", "text"))
        return EXIT_ERRORS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
