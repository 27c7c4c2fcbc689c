"""Shape checks over a YAML node tree: the field readers every policy section uses.

Each reader returns the value or ``None`` and records a ``Finding`` instead of stopping
at the first problem, so one run reports every mistake of a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from authzguard.policy.findings import Finding, Severity
from authzguard.policy.model import AttributeType, Position, SourceKind
from authzguard.policy.source import STR_TAG, Mapping, Node, Scalar, Sequence, describe
from authzguard.policy.suggest import Suggestions

# -- what names and values may be -------------------------------------------------------

SUPPORTED_VERSIONS = (1,)
NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
ATTRIBUTE_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
SUBJECT_RE = re.compile(r"(\*|[a-z][a-z0-9_-]*)")
RULE_ID_RE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,99}")
MODEL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
DOTTED_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
#: Names that clash with the compiled Casbin request objects or with the guards of the
#: expression evaluator under pycasbin (which refuses these attribute names).
RESERVED_ATTRIBUTES = frozenset(
    {"kind", "roles", "format", "format_map", "mro", "exec"}
    | {"tb_frame", "gi_frame", "ag_frame", "cr_frame"}
)
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_SOURCES: tuple[SourceKind, ...] = ("superuser", "staff", "authenticated", "anonymous")
TARGET_SOURCES = ("path", "query", "form", "json", "body")
ATTRIBUTE_TYPES: tuple[AttributeType, ...] = ("str", "int", "bool", "key", "list", "any")


_YAML11_HINTS = {
    "bool": "YAML 1.1 reads {text!r} as a boolean",
    "int": "YAML 1.1 reads {text!r} as a number",
    "float": "YAML 1.1 reads {text!r} as a number",
    "null": "YAML 1.1 reads {text!r} as null",
    "timestamp": "YAML 1.1 reads {text!r} as a date",
}


class Reader:
    """Shape checks over the node tree; collects findings instead of stopping at the first."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.suggest = Suggestions()

    def report(self, node: Node, code: str, message: str, severity: Severity = "error") -> None:
        self.findings.append(Finding(node.file, node.line, node.column, severity, code, message))

    def mapping(self, node: Node, where: str) -> Mapping | None:
        if isinstance(node, Mapping):
            return node
        if isinstance(node, Scalar) and node.text == "" and node.plain:
            return Mapping(node.file, node.line, node.column, ())
        self.report(node, "AZ102", f"{where} must be a mapping, not {describe(node)}")
        return None

    def keys(
        self, node: Mapping, where: str, allowed: Iterable[str], required: Iterable[str] = ()
    ) -> None:
        allowed = tuple(allowed)
        present = {key.text for key, _ in node.items}
        if present.issubset(allowed) and present.issuperset(required):
            return
        suggested: set[str] = set()
        for key, _ in node.items:
            if key.text not in allowed:
                close = self.suggest.closest(key.text, allowed)
                if close is not None:
                    suggested.add(close)
                    suggestion = f"; did you mean {close!r}?"
                else:
                    suggestion = f" (allowed: {', '.join(allowed)})"
                self.report(key, "AZ101", f"unknown key {key.text!r} in {where}{suggestion}")
        for name in required:
            # A misspelt key already says "did you mean <name>": no second finding for it.
            if name not in present and name not in suggested:
                self.report(node, "AZ104", f"{where} needs {name!r}")

    def string(
        self, node: Node, where: str, pattern: re.Pattern[str] | None = None, what: str = ""
    ) -> str | None:
        # The common case first: a quoted scalar, or a plain one YAML reads as text.
        if (
            isinstance(node, Scalar)
            and (not node.plain or node.tag == STR_TAG)
            and (pattern is None or pattern.fullmatch(node.text))
        ):
            return node.text
        if not isinstance(node, Scalar):
            self.report(node, "AZ102", f"{where} must be a string, not {describe(node)}")
            return None
        kind = node.implicit_type
        if kind != "str":
            hint = _YAML11_HINTS.get(kind, "YAML reads {text!r} as " + kind).format(text=node.text)
            self.report(
                node, "AZ103", f'{where}: {hint}; quote it ("{node.text}") if you mean the text'
            )
            return None
        if pattern is not None and not pattern.fullmatch(node.text):
            self.report(node, "AZ105", f"{where}: {node.text!r} is not a valid {what or 'value'}")
            return None
        return node.text

    def text(self, node: Node, where: str) -> str | None:
        """Free text (descriptions): any scalar's text, but still no YAML 1.1 surprises."""
        if isinstance(node, Scalar) and node.implicit_type in ("str",):
            return node.text
        return self.string(node, where)

    def _description(self, spec: Mapping) -> str:
        node = spec.get("description")
        return (self.text(node, "description") or "") if node is not None else ""

    def boolean(self, node: Node, where: str) -> bool | None:
        if isinstance(node, Scalar) and node.plain and node.text in ("true", "false"):
            return node.text == "true"
        if isinstance(node, Scalar) and node.implicit_type == "bool":
            self.report(
                node,
                "AZ103",
                f"{where}: write true or false, not {node.text!r} (YAML 1.1 spellings are ambiguous)",
            )
            return None
        self.report(node, "AZ102", f"{where} must be true or false, not {describe(node)}")
        return None

    def integer(self, node: Node, where: str) -> int | None:
        if (
            isinstance(node, Scalar)
            and node.plain
            and re.fullmatch(r"0|[1-9][0-9]{0,17}", node.text)
        ):
            return int(node.text)
        if isinstance(node, Scalar) and node.implicit_type in ("int", "float"):
            self.report(
                node,
                "AZ103",
                f"{where}: {node.text!r} is read by YAML 1.1 as a different number "
                "(octal, sexagesimal or with separators); write plain decimal digits",
            )
            return None
        self.report(node, "AZ102", f"{where} must be a whole number, not {describe(node)}")
        return None

    def items(self, node: Node, where: str) -> list[Node] | None:
        """A list; a single scalar stands for a list of one."""
        if isinstance(node, Sequence):
            if not node.items:
                self.report(node, "AZ105", f"{where} must not be empty")
                return None
            return list(node.items)
        if isinstance(node, Scalar) and node.text != "":
            return [node]
        self.report(node, "AZ102", f"{where} must be a list, not {describe(node)}")
        return None

    def names(
        self, node: Node, where: str, pattern: re.Pattern[str], what: str
    ) -> list[tuple[str, Scalar]]:
        out: list[tuple[str, Scalar]] = []
        for item in self.items(node, where) or []:
            value = self.string(item, where, pattern, what)
            if value is not None:
                assert isinstance(item, Scalar)
                out.append((value, item))
        return out


def _position(node: Node) -> Position:
    return Position(node.file, node.line, node.column)


def position(node: Node) -> Position:
    return Position(node.file, node.line, node.column)
