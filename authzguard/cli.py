"""``authzguard`` command line: lint, explain, test and compile policies, without Django.

Exit codes: 0 success, 1 policy errors, lint findings that fail or failing policy tests,
2 usage errors, 3 a deny from ``explain --exit-code``.
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
from authzguard.policy.explain import explain
from authzguard.policy.facts import (
    Facts,
    UsageError,
    check_action,
    check_facts,
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
    lint.add_argument("--format", choices=("text", "json"), default="text")
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

    comp = sub.add_parser("compile", help="write the Casbin model.conf and policy.csv")
    comp.add_argument("paths", nargs="+", metavar="PATH")
    comp.add_argument("--out", required=True, metavar="DIR")
    comp.set_defaults(func=cmd_compile)
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
