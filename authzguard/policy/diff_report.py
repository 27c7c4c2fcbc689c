"""``authzguard diff`` output: text, markdown (a pull-request comment) and JSON."""

from __future__ import annotations

import json
from typing import Any

from authzguard.policy.diff import Change, PolicyDiff, StructureChange

_WORDS = {
    "widen": "WIDENS",
    "narrow": "narrows",
    "both": "WIDENS and narrows",
    "unknown": "UNKNOWN (counted as widening)",
}


def _where(item: StructureChange) -> str:
    places = [
        f"base {item.base_at}" if item.base_at else "",
        f"new {item.new_at}" if item.new_at else "",
    ]
    joined = ", ".join(p for p in places if p)
    return f" ({joined})" if joined else ""


def _summary(result: PolicyDiff) -> str:
    if result.empty:
        return "no change in who may do what"
    counts = result.counts()
    parts = [f"{counts['widen'] + counts['both']} widening", f"{counts['narrow']} narrowing"]
    parts.append(f"{counts['unknown']} unknown")
    parts.append(f"{len(result.structure)} structural")
    return ", ".join(parts)


def _example_lines(change: Change) -> list[str]:
    out = []
    if change.widening is not None:
        out.append(f"counterexample (new allows, base denies): {change.widening.describe()}")
    if change.narrowing is not None:
        out.append(f"example (base allows, new denies): {change.narrowing.describe()}")
    if change.unknown is not None:
        out.append(f"unknown: {change.unknown}; counted as widening")
    return out


def text(result: PolicyDiff) -> str:
    lines = [f"authzguard diff {result.base_label} -> {result.new_label}"]
    lines.append(f"principals: {result.principals.note()}")
    if result.structure:
        lines.append("")
        lines.append("structure:")
        lines += [f"  {s.what}{_where(s)}" for s in result.structure]
    for change in result.changes:
        lines.append("")
        lines.append(
            f"{_WORDS[change.effect]}: {change.kind}.{change.action} for "
            + ", ".join(change.principals)
        )
        lines.append(f"  base: {change.base.condition}")
        lines.append(f"        rules: {', '.join(change.base.rules) or '(none apply)'}")
        lines.append(f"  new:  {change.new.condition}")
        lines.append(f"        rules: {', '.join(change.new.rules) or '(none apply)'}")
        lines += [f"  {line}" for line in _example_lines(change)]
    lines.append("")
    lines.append(_summary(result))
    return "\n".join(lines)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(result: PolicyDiff) -> str:
    lines = [f"### authzguard diff `{result.base_label}` → `{result.new_label}`", ""]
    lines.append(f"**{_summary(result)}**. Principals: {result.principals.note()}.")
    if result.changes:
        lines += ["", "| change | access | principals | base | new |", "|---|---|---|---|---|"]
        for change in result.changes:
            icon = {"narrow": "-", "widen": "+", "both": "+-", "unknown": "?"}[change.effect]
            base = f"`{_cell(change.base.condition)}`<br>{_cell(', '.join(change.base.rules))}"
            new = f"`{_cell(change.new.condition)}`<br>{_cell(', '.join(change.new.rules))}"
            lines.append(
                f"| {icon} {_WORDS[change.effect]} | `{change.kind}.{change.action}` | "
                f"{_cell(', '.join(change.principals))} | {base} | {new} |"
            )
        examples = [(c, line) for c in result.changes for line in _example_lines(c)]
        if examples:
            lines += ["", "<details><summary>Counterexamples</summary>", ""]
            lines += [f"- `{c.kind}.{c.action}`: {_cell(line)}" for c, line in examples]
            lines += ["", "</details>"]
    if result.structure:
        lines += ["", "Structure:", ""]
        lines += [f"- {_cell(s.what)}{_cell(_where(s))}" for s in result.structure]
    return "\n".join(lines)


def as_json(result: PolicyDiff) -> str:
    def change(c: Change) -> dict[str, Any]:
        return {
            "kind": c.kind,
            "action": c.action,
            "effect": c.effect,
            "counts_as_widening": c.widens,
            "principals": list(c.principals),
            "base": {"condition": c.base.condition, "rules": list(c.base.rules)},
            "new": {"condition": c.new.condition, "rules": list(c.new.rules)},
            "counterexample": c.widening.as_dict() if c.widening else None,
            "narrowing_example": c.narrowing.as_dict() if c.narrowing else None,
            "unknown": c.unknown,
        }

    document = {
        "base": result.base_label,
        "new": result.new_label,
        "principals": {
            "labels": [p.label for p in result.principals.principals],
            "facts": list(result.principals.facts),
            "partial": result.principals.partial,
            "note": result.principals.note(),
        },
        "structure": [
            {
                "topic": s.topic,
                "change": s.what,
                "base": s.base_at,
                "new": s.new_at,
                "relaxes": s.relaxes,
            }
            for s in result.structure
        ],
        "changes": [change(c) for c in result.changes],
        "widens": result.widens(),
        "summary": result.counts(),
    }
    return json.dumps(document, indent=2, default=str)
