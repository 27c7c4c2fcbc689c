"""The table a run prints (and docs/operations.md records)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.loadtest.run import Options, Result

#: Every kind of error the run looks for, listed even when it is zero.
ERROR_KINDS = (
    "wrong allow",
    "wrong deny",
    "wrong answer",
    "500",
    "503 outside a fault",
    "503 without Retry-After",
    "lost session",
    "session that should have ended",
    "live session of a deleted user",
    "deleted user signed in",
    "session of another user",
    "login refused",
    "unknown policy version",
    "no convergence",
    "no recovery",
    "connection error",
    "harness error",
)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def table(result: Result, options: Options) -> str:
    tally = result.tally
    rows: list[tuple[str, str]] = [
        ("duration", f"{options.duration:.0f} s of load, {result.elapsed:.0f} s in all"),
        ("clients / accounts", f"{options.threads} threads + 1 purger / {options.users + 2}"),
        ("policy reload", result.reload_mode),
    ]
    for name in ("requests", "decisions checked", "session checks", "logins",
                 "ends of sessions", "users deleted", "503",
                 "fail-closed denials in a fault"):  # fmt: skip
        rows.append((name, str(tally.counts[name])))
    rows.append(("errors", str(sum(tally.errors.values()))))
    for kind in (*ERROR_KINDS, *sorted(set(tally.errors) - set(ERROR_KINDS))):
        rows.append((f"  {kind}", str(tally.errors[kind])))
    for name, count in result.final.items():
        rows.append((f"at the end: {name}", str(count)))
    for window in (*tally.windows, *tally.silent_faults):
        rows.append((f"fault: {window.name}", f"{window.end - window.start:.1f} s down, "
                     f"recovered {_seconds(window.recovery)} after"))  # fmt: skip
    for name, latency in result.convergence.items():
        rows.append((f"both workers on the new version: {name}", _seconds(latency)))
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'what':<{width}} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
    examples = [f"  {kind}: {detail}" for kind, details in tally.examples.items()
                for detail in details]  # fmt: skip
    if examples:
        lines += ["", "First examples of each error:", *examples]
    lines.append("")
    lines.append("PASS" if result.ok else "FAIL")
    return "\n".join(lines)
