"""Replay audit records against a candidate policy: which recorded decisions would flip.

Records written with ``AUTHZGUARD_AUDIT_ATTRIBUTES = True`` carry the subject's Django
facts and the target's attributes (typed JSON, :mod:`typed`). Each decision is decided
again by the candidate from those alone. A record that lacks something the candidate
reads (an attribute it newly reads, a target never looked up, a value JSON could not
carry) is reported as unknown, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authzguard.policy.access import access
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.facts import UsageError, facts_from_mapping, subject_from_facts
from authzguard.policy.model import Resource
from authzguard.policy.typed import UntypedValue, decode

#: Statuses that are policy decisions; 400, 404 and 405 outcomes are not replayed.
DECIDED = ("allow", "deny")


@dataclass(frozen=True, slots=True)
class Replayed:
    line: int
    request_id: str | None
    view: str | None
    kind: str
    action: str
    target_id: object
    subject: Mapping[str, object]
    before: str
    after: str
    rule: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "request_id": self.request_id,
            "view": self.view,
            "kind": self.kind,
            "action": self.action,
            "target_id": self.target_id,
            "subject": dict(self.subject),
            "before": self.before,
            "after": self.after,
            "rule": self.rule,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Unknown:
    line: int
    request_id: str | None
    reason: str


@dataclass(slots=True)
class ReplayReport:
    records: int = 0
    replayed: int = 0
    skipped: int = 0
    flips: list[Replayed] = field(default_factory=list)
    unknown: list[Unknown] = field(default_factory=list)


def replay(lines: Iterable[str], candidate: CompiledPolicy) -> ReplayReport:
    report = ReplayReport()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        report.records += 1
        try:
            record = json.loads(line)
        except ValueError:
            report.unknown.append(Unknown(number, None, "not a JSON audit record"))
            continue
        if isinstance(record, dict) and isinstance(record.get("authz"), dict):
            record = record["authz"]
        if not isinstance(record, dict):
            report.unknown.append(Unknown(number, None, "not a JSON object"))
            continue
        if record.get("event") != "decision" or record.get("status") not in DECIDED:
            report.skipped += 1
            continue
        try:
            outcome = _redecide(number, record, candidate)
        except _Lacking as exc:
            report.unknown.append(Unknown(number, _text(record.get("request_id")), str(exc)))
            continue
        report.replayed += 1
        if outcome.before != outcome.after:
            report.flips.append(outcome)
    return report


class _Lacking(Exception):
    """The record does not hold what the candidate needs to decide."""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _redecide(number: int, record: Mapping[str, Any], candidate: CompiledPolicy) -> Replayed:
    facts_data = record.get("facts")
    if not isinstance(facts_data, dict):
        raise _Lacking("the record has no subject facts (was AUTHZGUARD_AUDIT_ATTRIBUTES on?)")
    kind, action = record.get("resource"), record.get("action")
    if not isinstance(kind, str) or not isinstance(action, str):
        raise _Lacking("the record names no resource kind and action")
    try:
        facts = facts_from_mapping(facts_data, "facts")
    except UsageError as exc:
        raise _Lacking(str(exc)) from None
    subject = subject_from_facts(candidate, facts)
    recorded = record.get("attributes")
    recorded = recorded if isinstance(recorded, dict) else None
    needed = access(candidate, subject, kind, action).reads()
    attributes: dict[str, object] = {}
    for scope, name in sorted(needed):
        if scope != "resource":
            continue  # the facts hold every subject attribute (an absent one is absent)
        if recorded is None:
            raise _Lacking(f"the candidate reads resource.{name}; the target was not looked up")
        if name not in recorded:
            raise _Lacking(f"the candidate reads resource.{name}, which the record lacks")
        try:
            attributes[name] = decode(recorded[name])
        except UntypedValue as exc:
            raise _Lacking(f"resource.{name}: {exc}") from None
    resource = Resource(kind, {k: v for k, v in attributes.items() if v is not None})
    decision = candidate.decide(subject, action, resource)
    after = "allow" if decision.allowed and decision.error is None else "deny"
    return Replayed(
        number,
        _text(record.get("request_id")),
        _text(record.get("view")),
        kind,
        action,
        record.get("target_id"),
        facts.as_dict(),
        "allow" if record.get("decision") == "allow" else "deny",
        after,
        decision.rule,
        decision.reason,
    )
