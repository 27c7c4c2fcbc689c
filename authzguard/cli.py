"""``authzguard`` command line: lint, explain and compile policies, without Django.

Exit codes: 0 success (lint: no errors), 1 policy errors, 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from authzguard.exceptions import PolicyError
from authzguard.policy import compile_policy, lint_paths, load_policy
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.findings import Finding
from authzguard.policy.model import Resource, Subject

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
_FIELD = re.compile(r"([a-z_][a-z0-9_]*)=(.*)", re.DOTALL)


class UsageError(Exception):
    pass


def parse_value(text: str) -> object:
    """``9`` is an int, ``true``/``false`` bools, ``"9"`` or ``'9'`` the string 9, else text."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def _fields(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _FIELD.fullmatch(part)
        if match is None:
            raise UsageError(f"{what}: expected name=value, got {part!r}")
        if match.group(1) in out:
            raise UsageError(f"{what}: {match.group(1)!r} given twice")
        out[match.group(1)] = match.group(2)
    return out


def parse_subject(text: str) -> Subject:
    """``id=7,username=alice,roles=support+admin,groups=finance`` or ``anonymous``.

    ``groups`` are the names ``subject.groups`` holds (they grant no role here: name the
    roles too); without it, a condition reading ``subject.groups`` denies.
    """
    if text.strip() == "anonymous":
        return Subject.anonymous()
    fields = _fields(text, "--subject")
    unknown = set(fields) - {"id", "username", "email", "roles", "groups", "authenticated"}
    if unknown:
        raise UsageError(f"--subject: unknown field(s) {', '.join(sorted(unknown))}")
    roles = frozenset(r for r in re.split(r"[+;|]", fields.get("roles", "")) if r)
    groups = fields.get("groups")
    authenticated = parse_value(fields.get("authenticated", "true"))
    if not isinstance(authenticated, bool):
        raise UsageError("--subject: authenticated must be true or false")
    username, email = fields.get("username"), fields.get("email")
    return Subject(
        id=parse_value(fields["id"]) if "id" in fields else None,
        username=username,
        email=email,
        roles=roles,
        authenticated=authenticated,
        groups=None
        if groups is None
        else tuple(sorted({g for g in re.split(r"[+;|]", groups) if g})),
    )


def parse_resource(text: str) -> Resource:
    """``user:id=9,owner=9`` (kind, then attributes)."""
    kind, _, rest = text.partition(":")
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        raise UsageError(f"--resource: {kind!r} is not a resource kind (write kind:attr=value,...)")
    return Resource(kind, {k: parse_value(v) for k, v in _fields(rest, "--resource").items()})


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


def cmd_explain(args: argparse.Namespace) -> int:
    from authzguard.policy.explain import explain

    compiled = _load(args.paths)
    if args.engine == "casbin":
        from authzguard.enforcer import with_casbin

        compiled = with_casbin(compiled)
    subject = parse_subject(args.subject)
    resource = parse_resource(args.resource)
    if resource.kind not in compiled.policy.resources:
        raise UsageError(f"--resource: the policy declares no resource kind {resource.kind!r}")
    result = explain(compiled, subject, args.action, resource)
    if args.format == "json":
        d = result.decision
        print(
            json.dumps(
                {
                    "allowed": d.allowed,
                    "rule": d.rule,
                    "reason": d.reason,
                    "chain": list(d.chain),
                    "error": d.error,
                    "policy_version": compiled.version,
                    "effective_roles": sorted(result.effective_roles),
                    "steps": [
                        {
                            "rule": s.rule.id,
                            "effect": s.rule.effect,
                            "outcome": s.outcome,
                            "chain": list(s.chain),
                            "detail": s.detail,
                            "position": str(s.rule.position),
                        }
                        for s in result.steps
                    ],
                },
                indent=2,
            )
        )
    else:
        print("\n".join(result.lines()))
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
    lint.add_argument("--format", choices=("text", "json"), default="text")
    lint.add_argument("--strict", action="store_true", help="warnings fail too")
    lint.set_defaults(func=cmd_lint)

    exp = sub.add_parser("explain", help="decide one request and show the reasoning")
    exp.add_argument("paths", nargs="+", metavar="PATH")
    exp.add_argument("--subject", required=True, help="id=7,roles=support+admin or anonymous")
    exp.add_argument("--action", required=True)
    exp.add_argument("--resource", required=True, help="kind:attr=value,... e.g. user:id=9,owner=9")
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
