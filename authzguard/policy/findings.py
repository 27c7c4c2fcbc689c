"""Lint findings: one per problem, each pointing at a file, line and column.

Codes are stable (tools and suppressions depend on them): ``AZ0xx`` reading YAML,
``AZ1xx`` the document's shape, ``AZ2xx`` meaning, ``AZ3xx`` risky-but-valid warnings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]

#: Every code, with its short name. A test asserts codes are unique and documented.
CODES: dict[str, str] = {
    "AZ001": "unreadable-file",
    "AZ002": "file-too-large",
    "AZ003": "yaml-syntax",
    "AZ004": "unsafe-tag",
    "AZ005": "duplicate-key",
    "AZ006": "alias-limit",
    "AZ007": "empty-file",
    "AZ008": "nesting-limit",
    "AZ009": "more-findings",
    "AZ101": "unknown-key",
    "AZ102": "wrong-type",
    "AZ103": "ambiguous-scalar",
    "AZ104": "missing-key",
    "AZ105": "invalid-value",
    "AZ106": "unsupported-version",
    "AZ201": "duplicate-id",
    "AZ202": "undefined-role",
    "AZ203": "undefined-resource",
    "AZ204": "undefined-action",
    "AZ205": "undefined-attribute",
    "AZ206": "role-cycle",
    "AZ207": "condition-syntax",
    "AZ208": "condition-type",
    "AZ209": "duplicate-definition",
    "AZ210": "inheritance-limit",
    "AZ301": "shadowed-rule",
    "AZ302": "idor-risk",
    "AZ303": "condition-never-holds",
    "AZ304": "deny-always-holds",
    "AZ305": "anonymous-subject-attribute",
}


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str

    def format(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.code}]"
        )

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["name"] = CODES.get(self.code, "")
        return data

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)
