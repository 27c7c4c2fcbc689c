"""The review commands of the ``authzguard`` command line: ``diff``, ``matrix``, ``replay``.

``cli`` registers them; the work is done by the pure modules of :mod:`authzguard.policy`.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from authzguard.policy import compile_policy, load_policy
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.facts import UsageError

EXIT_OK, EXIT_FAIL = 0, 1


def _compiled(paths: Sequence[str | Path]) -> CompiledPolicy:
    return compile_policy(load_policy(paths))


# -- diff --------------------------------------------------------------------------------------


def _git(args: Sequence[str]) -> bytes:
    try:
        # git from PATH, as the user runs it; arguments are a list (no shell).
        done = subprocess.run(["git", *args], capture_output=True, check=False)  # noqa: S603, S607
    except OSError as exc:
        raise UsageError(f"--git: cannot run git ({exc})") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise UsageError(f"--git: git {' '.join(args)} failed: {message}")
    return done.stdout


def _checkout(rev: str, paths: Sequence[str], into: Path) -> list[Path]:
    """Copy ``paths`` (relative to the current directory) as they were at ``rev`` into
    ``into``, at the same relative places; the copies of those that existed then."""
    if rev.startswith("-"):
        raise UsageError(f"--git: {rev!r} is not a revision")
    _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
    found: list[Path] = []
    for path in paths:
        listed = _git(["ls-tree", "-r", "-z", "--name-only", rev, "--", path]).decode()
        names = [n for n in listed.split("\0") if n]
        for name in names:
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise UsageError(f"--git: refusing the path {name!r}")
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_git(["show", f"{rev}:./{name}"]))
        if names:
            found.append(into / path)
    return found


def cmd_diff(args: argparse.Namespace) -> int:
    from authzguard.policy import diff, diff_report

    if args.git is not None:
        new_paths = list(args.paths) or ["policies"]
        with tempfile.TemporaryDirectory(prefix="authzguard-diff-") as tmp:
            root = Path(tmp)
            base_paths = _checkout(args.git, new_paths, root)
            if base_paths:
                base_compiled = _compiled(base_paths)
            else:
                base_compiled = compile_policy(diff.empty_policy())
            base = diff.version(args.git, base_compiled, root, f"{args.git}:")
            new = diff.version("working tree", _compiled(new_paths), Path.cwd())
            result = diff.diff(base, new)
    else:
        if len(args.paths) != 2:
            raise UsageError("give BASE and NEW (files or directories), or --git REV [PATHS]")
        both_files = all(Path(p).is_file() for p in args.paths)
        sides = []
        for path in args.paths:
            root = Path(path) if Path(path).is_dir() else Path(path).parent
            alias = "(the policy file)" if both_files else ""
            sides.append(diff.version(path, _compiled([path]), root, alias=alias))
        result = diff.diff(sides[0], sides[1])
    render = {"markdown": diff_report.markdown, "json": diff_report.as_json}
    print(render.get(args.format, diff_report.text)(result))
    return EXIT_FAIL if args.fail_on == "widen" and result.widens() else EXIT_OK


# -- matrix ------------------------------------------------------------------------------------


def cmd_matrix(args: argparse.Namespace) -> int:
    from authzguard.policy import matrix

    built = matrix.build(_compiled(args.paths))
    if args.check is None:
        print(matrix.render(built, args.format or "markdown"), end="")
        return EXIT_OK
    fmt = args.format or matrix.format_for(args.check)
    if fmt is None:
        raise UsageError(f"--check {args.check}: give --format (the name does not say which)")
    try:
        committed = Path(args.check).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--check {args.check}: {exc.strerror or exc}") from None
    current = matrix.render(built, fmt)
    if committed == current:
        print(f"{args.check} is up to date")
        return EXIT_OK
    sys.stdout.writelines(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            f"{args.check} (committed)",
            f"{args.check} (from the policy)",
        )
    )
    paths = " ".join(args.paths)
    print(
        f"{args.check} is out of date: regenerate it with "
        f"`authzguard matrix {paths} --format {fmt} > {args.check}`",
        file=sys.stderr,
    )
    return EXIT_FAIL


# -- replay ------------------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    import json

    from authzguard.policy import replay

    candidate = _compiled(args.policy)
    try:
        with open(args.log, encoding="utf-8") as handle:
            report = replay.replay(handle, candidate)
    except OSError as exc:
        raise UsageError(f"{args.log}: {exc.strerror or exc}") from None
    if args.format == "json":
        document = {
            "records": report.records,
            "replayed": report.replayed,
            "skipped": report.skipped,
            "flips": [f.as_dict() for f in report.flips],
            "unknown": [
                {"line": u.line, "request_id": u.request_id, "reason": u.reason}
                for u in report.unknown
            ],
        }
        print(json.dumps(document, indent=2, default=str))
    else:
        for flip in report.flips:
            print(
                f"{args.log}:{flip.line}: {flip.before} -> {flip.after}: {flip.kind}.{flip.action}"
                f" target {flip.target_id!r} for {json.dumps(flip.subject, default=str)}"
                f" (request {flip.request_id}, view {flip.view}; {flip.reason})"
            )
        for unknown in report.unknown:
            print(
                f"{args.log}:{unknown.line}: unknown: {unknown.reason} (request {unknown.request_id})"
            )
        print(
            f"{report.replayed} decisions replayed: {len(report.flips)} would flip, "
            f"{len(report.unknown)} unknown, {report.skipped} records skipped (not decisions)"
        )
    failing = report.flips or report.unknown
    return EXIT_FAIL if args.fail_on == "flip" and failing else EXIT_OK


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    diff = sub.add_parser("diff", help="who may do what, before and after a change")
    diff.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="BASE and NEW (files or directories); with --git, the policy paths (default: policies)",
    )
    diff.add_argument("--git", metavar="REV", help="compare PATHS at REV with the working tree")
    diff.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    diff.add_argument(
        "--fail-on", choices=("widen",), help="widen: exit 1 when any access grows (or is unknown)"
    )
    diff.set_defaults(func=cmd_diff)

    mat = sub.add_parser("matrix", help="principals x kinds x actions: always, never or when")
    mat.add_argument("paths", nargs="*", metavar="PATH", default=["policies"])
    mat.add_argument("--format", choices=("markdown", "csv", "json", "html"))
    mat.add_argument(
        "--check", metavar="FILE", help="exit 1 when FILE (e.g. ACCESS.md) is out of date"
    )
    mat.set_defaults(func=cmd_matrix)

    rep = sub.add_parser("replay", help="decide audit records again under a candidate policy")
    rep.add_argument("log", metavar="AUDIT.jsonl")
    rep.add_argument("--policy", action="append", required=True, metavar="PATH")
    rep.add_argument("--format", choices=("text", "json"), default="text")
    rep.add_argument(
        "--fail-on", choices=("flip",), help="flip: exit 1 when a decision flips or is unknown"
    )
    rep.set_defaults(func=cmd_replay)
