"""Load policy files: read strictly, check the shape, merge, then check the meaning.

Every problem becomes a ``Finding`` with file, line and column; a run reports all of
them together. ``load_policy`` raises ``PolicyError`` when any finding is an error, so a
broken policy can never be half-loaded (and never fails open).
"""

from __future__ import annotations

import hashlib
import keyword
import re
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

from authzguard.exceptions import ConditionError, PolicyError
from authzguard.policy import conditions
from authzguard.policy import roles as role_graph
from authzguard.policy.allocation import collector_paused
from authzguard.policy.findings import Finding, Severity
from authzguard.policy.model import (
    BUILTIN_SUBJECTS,
    DEFAULT_DESTRUCTIVE_ACTIONS,
    DEFAULT_SAFE_ACTIONS,
    SUBJECT_ATTRIBUTES,
    Action,
    Attribute,
    AttributeType,
    Condition,
    Effect,
    Policy,
    Position,
    ResourceKind,
    Role,
    RoleSource,
    RouteBinding,
    Rule,
    SourceKind,
    TargetSpec,
)
from authzguard.policy.source import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_NODES,
    STR_TAG,
    Mapping,
    Node,
    Scalar,
    Sequence,
    describe,
    parse_bytes,
    read_bytes,
)
from authzguard.policy.suggest import Suggestions

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
SOURCES: tuple[SourceKind, ...] = ("superuser", "staff", "authenticated", "anonymous")
TARGET_SOURCES = ("path", "query", "form", "json", "body")
ATTRIBUTE_TYPES: tuple[AttributeType, ...] = ("str", "int", "bool", "key", "list", "any")

T = TypeVar("T")

_YAML11_HINTS = {
    "bool": "YAML 1.1 reads {text!r} as a boolean",
    "int": "YAML 1.1 reads {text!r} as a number",
    "float": "YAML 1.1 reads {text!r} as a number",
    "null": "YAML 1.1 reads {text!r} as null",
    "timestamp": "YAML 1.1 reads {text!r} as a date",
}


@dataclass
class _Document:
    """One file's definitions, before merging."""

    file: str
    roles: dict[str, Role] = field(default_factory=dict)
    resources: dict[str, ResourceKind] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    routes: dict[str, RouteBinding] = field(default_factory=dict)
    destructive: list[str] | None = None


class _Reader:
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


class _DocumentReader(_Reader):
    def read(self, tree: Node, file: str) -> _Document:
        doc = _Document(file)
        top = self.mapping(tree, "a policy file")
        if top is None:
            return doc
        self.keys(
            top,
            "the policy file",
            ("version", "description", "roles", "resources", "rules", "routes", "lint"),
            ("version",),
        )
        version_node = top.get("version")
        if version_node is not None:
            version = self.integer(version_node, "version")
            if version is not None and version not in SUPPORTED_VERSIONS:
                self.report(
                    version_node,
                    "AZ106",
                    f"policy language version {version} is not supported (supported: 1)",
                )
                return doc
        if (node := top.get("description")) is not None:
            self.text(node, "description")
        if (node := top.get("roles")) is not None:
            self._roles(node, doc)
        if (node := top.get("resources")) is not None:
            self._resources(node, doc)
        if (node := top.get("rules")) is not None:
            self._rules(node, doc)
        if (node := top.get("routes")) is not None:
            self._routes(node, doc)
        if (node := top.get("lint")) is not None:
            self._lint(node, doc)
        return doc

    # -- roles --

    def _roles(self, node: Node, doc: _Document) -> None:
        roles = self.mapping(node, "roles")
        if roles is None:
            return
        for key, body in roles.items:
            name = self.string(
                key, "role name", NAME_RE, "role name (lowercase letters, digits, - and _)"
            )
            if name is None:
                continue
            if name in BUILTIN_SUBJECTS:
                self.report(
                    key, "AZ105", f"{name!r} is a built-in subject and cannot be declared as a role"
                )
                continue
            spec = self.mapping(body, f"role {name!r}")
            if spec is None:
                continue
            self.keys(spec, f"role {name!r}", ("description", "inherits", "granted_to"))
            inherits: tuple[str, ...] = ()
            if (n := spec.get("inherits")) is not None:
                inherits = tuple(
                    r for r, _ in self.names(n, f"role {name!r} inherits", NAME_RE, "role name")
                )
            granted = self._sources(spec.get("granted_to"), name)
            doc.roles[name] = Role(name, inherits, granted, self._description(spec), _position(key))

    def _sources(self, node: Node | None, role: str) -> tuple[RoleSource, ...]:
        if node is None:
            return ()
        out: list[RoleSource] = []
        for item in self.items(node, f"role {role!r} granted_to") or []:
            if isinstance(item, Mapping):
                self.keys(item, "a role source", ("group",), ("group",))
                group_node = item.get("group")
                if group_node is not None:
                    group = self.string(group_node, "group name")
                    if group is not None:
                        if not group.strip() or len(group) > 150:
                            self.report(
                                group_node, "AZ105", "group name must be 1 to 150 characters"
                            )
                        else:
                            out.append(RoleSource("group", group))
                continue
            text = self.string(item, f"role {role!r} granted_to")
            if text is None:
                continue
            if text not in SOURCES:
                more = self.suggest(text, SOURCES)
                self.report(
                    item,
                    "AZ105",
                    f"unknown role source {text!r} (one of {', '.join(SOURCES)}, or {{group: NAME}}){more}",
                )
                continue
            out.append(RoleSource(text))
        return tuple(out)

    # -- resources --

    def _resources(self, node: Node, doc: _Document) -> None:
        resources = self.mapping(node, "resources")
        if resources is None:
            return
        for key, body in resources.items:
            name = self.string(key, "resource kind", NAME_RE, "resource kind name")
            if name is None:
                continue
            spec = self.mapping(body, f"resource {name!r}")
            if spec is None:
                continue
            self.keys(
                spec,
                f"resource {name!r}",
                ("description", "model", "actions", "attributes"),
                ("actions",),
            )
            model = None
            if (m := spec.get("model")) is not None:
                model = self.string(
                    m, f"resource {name!r} model", MODEL_RE, "model label (app_label.ModelName)"
                )
            actions = self._actions(spec.get("actions"), name)
            attributes = self._attributes(spec.get("attributes"), name)
            doc.resources[name] = ResourceKind(
                name, actions, attributes, model, self._description(spec), _position(key)
            )

    def _actions(self, node: Node | None, resource: str) -> dict[str, Action]:
        out: dict[str, Action] = {}
        if node is None:
            return out
        where = f"resource {resource!r} actions"
        if isinstance(node, Sequence) or (isinstance(node, Scalar) and node.text):
            for name, item in self.names(node, where, ATTRIBUTE_RE, "action name"):
                if name in out:
                    self.report(item, "AZ201", f"action {name!r} is listed twice")
                out[name] = Action(name, name in DEFAULT_SAFE_ACTIONS, position=_position(item))
            return out
        actions = self.mapping(node, where)
        if actions is None:
            return out
        if not actions.items:
            self.report(actions, "AZ105", f"{where} must not be empty")
        for key, body in actions.items:
            action_name = self.string(key, "action name", ATTRIBUTE_RE, "action name")
            if action_name is None:
                continue
            name = action_name
            spec = self.mapping(body, f"action {name!r}")
            if spec is None:
                continue
            self.keys(spec, f"action {name!r}", ("safe", "methods", "destructive", "description"))
            safe = name in DEFAULT_SAFE_ACTIONS
            if (s := spec.get("safe")) is not None:
                safe = bool(self.boolean(s, f"action {name!r} safe"))
            destructive = False
            if (d := spec.get("destructive")) is not None:
                destructive = bool(self.boolean(d, f"action {name!r} destructive"))
            methods = None
            if (m := spec.get("methods")) is not None:
                methods = self._methods(m, name, safe)
            out[name] = Action(
                name, safe, methods, destructive, self._description(spec), _position(key)
            )
        return out

    def _methods(self, node: Node, action: str, safe: bool) -> tuple[str, ...] | None:
        methods: list[str] = []
        for item in self.items(node, f"action {action!r} methods") or []:
            text = self.string(item, f"action {action!r} methods")
            if text is None:
                continue
            upper = text.upper()
            if upper not in HTTP_METHODS:
                self.report(
                    item, "AZ105", f"{text!r} is not an HTTP method ({', '.join(HTTP_METHODS)})"
                )
            elif safe and upper not in SAFE_METHODS:
                self.report(
                    item,
                    "AZ105",
                    f"safe action {action!r} cannot accept {upper}: mark it safe: false",
                )
            elif not safe and upper in SAFE_METHODS:
                self.report(
                    item,
                    "AZ105",
                    f"state-changing action {action!r} must not accept {upper} (a link or prefetch would trigger it)",
                )
            else:
                methods.append(upper)
        return tuple(methods) if methods else None

    def _attributes(self, node: Node | None, resource: str) -> dict[str, Attribute]:
        out: dict[str, Attribute] = {}
        if node is None:
            return out
        where = f"resource {resource!r} attributes"
        if isinstance(node, Sequence):
            for name, item in self.names(node, where, ATTRIBUTE_RE, "attribute name"):
                if self._attribute_name_ok(name, item):
                    out[name] = Attribute(name, "any", None, _position(item))
            return out
        attributes = self.mapping(node, where)
        if attributes is None:
            return out
        for key, body in attributes.items:
            attr_name = self.string(key, "attribute name", ATTRIBUTE_RE, "attribute name")
            if attr_name is None or not self._attribute_name_ok(attr_name, key):
                continue
            name = attr_name
            kind: AttributeType | None = "any"
            if isinstance(body, Scalar):
                kind = self._attribute_type(body)
                if kind is not None:
                    out[name] = Attribute(name, kind, None, _position(key))
                continue
            spec = self.mapping(body, f"attribute {name!r}")
            if spec is None:
                continue
            self.keys(spec, f"attribute {name!r}", ("type", "field"))
            if (t := spec.get("type")) is not None:
                kind = self._attribute_type(t)
            fld = None
            if (f := spec.get("field")) is not None:
                fld = self.string(f, f"attribute {name!r} field", FIELD_RE, "attribute path")
            if kind is not None:
                out[name] = Attribute(name, kind, fld, _position(key))
        return out

    def _attribute_name_ok(self, name: str, node: Node) -> bool:
        # A Python keyword cannot follow a dot in the compiled Casbin expression.
        if name in RESERVED_ATTRIBUTES or name.startswith("func_") or keyword.iskeyword(name):
            self.report(node, "AZ105", f"attribute name {name!r} is reserved")
            return False
        return True

    def _attribute_type(self, node: Node) -> AttributeType | None:
        text = self.string(node, "attribute type")
        if text is None:
            return None
        if text not in ATTRIBUTE_TYPES:
            more = self.suggest(text, ATTRIBUTE_TYPES)
            self.report(
                node,
                "AZ105",
                f"unknown attribute type {text!r} (one of {', '.join(ATTRIBUTE_TYPES)}){more}",
            )
            return None
        return text

    # -- rules --

    def _rules(self, node: Node, doc: _Document) -> None:
        if not isinstance(node, Sequence):
            self.report(node, "AZ102", f"rules must be a list, not {describe(node)}")
            return
        for item in node.items:
            spec = self.mapping(item, "a rule")
            if spec is None:
                continue
            self.keys(
                spec,
                "a rule",
                ("id", "effect", "subjects", "actions", "resource", "when", "description"),
                ("id", "effect", "subjects", "actions", "resource"),
            )
            # One pass over the rule's keys instead of a scan per key read (a mapping
            # holds each key once: the parser refuses repeated keys, AZ005).
            parts = {key.text: value for key, value in spec.items}
            rule_id = (
                self.string(
                    n,
                    "rule id",
                    RULE_ID_RE,
                    "rule id (lowercase letters, digits, . _ : -)",
                )
                if (n := parts.get("id")) is not None
                else None
            )
            effect: Effect | None = None
            if (e := parts.get("effect")) is not None:
                text = self.string(e, "effect")
                if text is not None:
                    if text in ("allow", "deny"):
                        effect = cast(Effect, text)
                    else:
                        self.report(e, "AZ105", f"effect must be allow or deny, not {text!r}")
            # (part, line, column): the first place each subject and action is written.
            where: list[tuple[str, int, int]] = []
            subjects: list[str] = []
            if (n := parts.get("subjects")) is not None:
                for name, item in self.names(n, "subjects", SUBJECT_RE, "subject"):
                    subjects.append(name)
                    where.append((f"subject:{name}", item.line, item.column))
            actions: list[str] = []
            if (n := parts.get("actions")) is not None:
                for name, item in self.names(n, "actions", ATTRIBUTE_RE, "action name"):
                    actions.append(name)
                    where.append((f"action:{name}", item.line, item.column))
            resource = None
            if (n := parts.get("resource")) is not None:
                resource = self.string(n, "resource", NAME_RE, "resource kind")
                where.append(("resource", n.line, n.column))
            when = None
            if (w := parts.get("when")) is not None:
                when = self._condition(w)
            description = self._description(spec)
            if (
                rule_id
                and effect
                and subjects
                and actions
                and resource
                and (w is None or when is not None)
            ):
                doc.rules.append(
                    Rule(
                        rule_id,
                        effect,
                        tuple(dict.fromkeys(subjects)),
                        tuple(dict.fromkeys(actions)),
                        resource,
                        when,
                        description,
                        _position(spec),
                        tuple(where),
                    )
                )

    def _condition(self, node: Node) -> Condition | None:
        if not isinstance(node, Scalar):
            self.report(node, "AZ102", f"when must be a condition (text), not {describe(node)}")
            return None
        # Point at the condition text itself, so a column offset inside it lands right.
        single_line = "\n" not in node.text
        shift = 0 if node.plain or not single_line else 1
        start = Position(node.file, node.line, node.column + shift)
        try:
            tree = conditions.parse(node.text)
        except ConditionError as exc:
            column = start.column + exc.column if single_line else start.column
            self.findings.append(
                Finding(
                    node.file, node.line, column, "error", exc.code, f"condition: {exc.message}"
                )
            )
            return None
        return Condition(node.text, tree, start)

    # -- routes --

    def _routes(self, node: Node, doc: _Document) -> None:
        routes = self.mapping(node, "routes")
        if routes is None:
            return
        for key, body in routes.items:
            view_name = self.string(key, "route name")
            if view_name is None:
                continue
            if not view_name.strip():
                self.report(key, "AZ105", "route name must not be empty")
                continue
            spec = self.mapping(body, f"route {view_name!r}")
            if spec is None:
                continue
            self.keys(
                spec,
                f"route {view_name!r}",
                ("action", "resource", "target"),
                ("action", "resource"),
            )
            action = (
                self.string(spec["action"], "action", ATTRIBUTE_RE, "action name")
                if spec.get("action") is not None
                else None
            )
            resource = (
                self.string(spec["resource"], "resource", NAME_RE, "resource kind")
                if spec.get("resource") is not None
                else None
            )
            target = (
                self._target(spec.get("target"), view_name)
                if spec.get("target") is not None
                else None
            )
            if action and resource:
                doc.routes[view_name] = RouteBinding(
                    view_name, action, resource, target, _position(key)
                )

    def _target(self, node: Node | None, view_name: str) -> TargetSpec | None:
        assert node is not None
        spec = self.mapping(node, f"route {view_name!r} target")
        if spec is None:
            return None
        self.keys(
            spec,
            "a target",
            ("param", "source", "model", "field", "resolver", "pass_as", "max_length"),
        )
        values: dict[str, object] = {}
        checks: dict[str, tuple[re.Pattern[str] | None, str]] = {
            "param": (re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}"), "parameter name"),
            "model": (MODEL_RE, "model label (app_label.ModelName)"),
            "field": (FIELD_RE, "field name"),
            "resolver": (DOTTED_RE, "dotted path"),
            "pass_as": (re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "keyword argument name"),
        }
        for name, (pattern, what) in checks.items():
            if (n := spec.get(name)) is not None:
                values[name] = self.string(n, f"target {name}", pattern, what)
        if (n := spec.get("source")) is not None:
            source = self.string(n, "target source")
            if source is not None and source not in TARGET_SOURCES:
                self.report(
                    n,
                    "AZ105",
                    f"target source must be one of {', '.join(TARGET_SOURCES)}, not {source!r}",
                )
            else:
                values["source"] = source
        if (n := spec.get("max_length")) is not None:
            values["max_length"] = self.integer(n, "target max_length")
        if values.get("resolver") is None and values.get("param") is None:
            self.report(
                spec, "AZ104", "a target needs either 'param' (with model/field) or 'resolver'"
            )
            return None
        if (
            values.get("resolver") is not None
            and values.get("param") is not None
            and spec.get("model") is not None
        ):
            self.report(spec, "AZ105", "a target with a custom 'resolver' takes no 'model'")
        return TargetSpec(
            param=cast("str | None", values.get("param")),
            source=cast("str | None", values.get("source")),
            model=cast("str | None", values.get("model")),
            field=cast(str, values.get("field") or "pk"),
            resolver=cast("str | None", values.get("resolver")),
            pass_as=cast("str | None", values.get("pass_as")),
            max_length=cast("int | None", values.get("max_length")),
        )

    def _lint(self, node: Node, doc: _Document) -> None:
        spec = self.mapping(node, "lint")
        if spec is None:
            return
        self.keys(spec, "lint", ("destructive_actions",))
        if (n := spec.get("destructive_actions")) is not None:
            doc.destructive = [
                name
                for name, _ in self.names(n, "destructive_actions", ATTRIBUTE_RE, "action name")
            ]


# -- merging and meaning ------------------------------------------------------------------------


def _merge(docs: list[_Document], findings: list[Finding]) -> Policy:
    roles: dict[str, Role] = {}
    resources: dict[str, ResourceKind] = {}
    routes: dict[str, RouteBinding] = {}
    rules: list[Rule] = []
    destructive: list[str] | None = None

    def put(table: dict[str, T], name: str, value: T, pos: Position, what: str) -> None:
        if name in table:
            first = cast(Position, getattr(table[name], "position"))  # noqa: B009
            findings.append(
                Finding(
                    pos.file,
                    pos.line,
                    pos.column,
                    "error",
                    "AZ209",
                    f"{what} {name!r} is already defined at {first}",
                )
            )
        else:
            table[name] = value

    for doc in docs:
        for name, role in doc.roles.items():
            put(roles, name, role, role.position, "role")
        for name, resource in doc.resources.items():
            put(resources, name, resource, resource.position, "resource")
        for name, route in doc.routes.items():
            put(routes, name, route, route.position, "route")
        rules.extend(doc.rules)
        if doc.destructive is not None:
            destructive = (destructive or []) + doc.destructive
    return Policy(
        roles=roles,
        resources=resources,
        rules=tuple(rules),
        routes=routes,
        destructive_actions=tuple(dict.fromkeys(destructive))
        if destructive is not None
        else DEFAULT_DESTRUCTIVE_ACTIONS,
        files=tuple(d.file for d in docs),
    )


def _at(pos: Position, severity: Severity, code: str, message: str) -> Finding:
    return Finding(pos.file, pos.line, pos.column, severity, code, message)


def check_semantics(policy: Policy, findings: list[Finding]) -> None:
    """Meaning: references resolve, no cycles, conditions type-check, and risk warnings."""
    roles, resources = policy.roles, policy.resources
    suggest = Suggestions()
    # A dict, not a set: hints search names in a fixed order.
    known_subjects = dict.fromkeys([*roles, *sorted(BUILTIN_SUBJECTS)])
    for role in roles.values():
        for parent in role.inherits:
            if parent not in roles:
                findings.append(
                    _at(
                        role.position,
                        "error",
                        "AZ202",
                        f"role {role.name!r} inherits undefined role {parent!r}{suggest(parent, roles)}",
                    )
                )
    graph_problems, inherited = _role_graph(policy)
    findings.extend(graph_problems)

    seen_ids: dict[str, Rule] = {}
    type_problems: dict[tuple[str, str], list[ConditionError]] = {}
    for rule in policy.rules:
        if rule.id in seen_ids:
            findings.append(
                _at(
                    rule.position,
                    "error",
                    "AZ201",
                    f"rule id {rule.id!r} is already used at {seen_ids[rule.id].position}",
                )
            )
        else:
            seen_ids[rule.id] = rule
        for subject in rule.subjects:
            if subject not in known_subjects:
                findings.append(
                    _at(
                        rule.where(f"subject:{subject}"),
                        "error",
                        "AZ202",
                        f"rule {rule.id!r}: undefined role {subject!r}{suggest(subject, known_subjects)}",
                    )
                )
        kind = resources.get(rule.resource)
        if kind is None:
            findings.append(
                _at(
                    rule.where("resource"),
                    "error",
                    "AZ203",
                    f"rule {rule.id!r}: undefined resource {rule.resource!r}{suggest(rule.resource, resources)}",
                )
            )
            continue
        for action in rule.actions:
            if action not in kind.actions:
                findings.append(
                    _at(
                        rule.where(f"action:{action}"),
                        "error",
                        "AZ204",
                        f"rule {rule.id!r}: resource {kind.name!r} has no action {action!r}{suggest(action, kind.actions)}",
                    )
                )
        if rule.when is not None:
            # Large policies repeat a few conditions per kind: type-check each pair once.
            problems = type_problems.get((kind.name, rule.when.source))
            if problems is None:
                types = {name: attr.type for name, attr in kind.attributes.items()}
                problems = conditions.check_types(rule.when.tree, SUBJECT_ATTRIBUTES, types)
                type_problems[(kind.name, rule.when.source)] = problems
            for problem in problems:
                pos = rule.when.position
                offset = 0 if "\n" in rule.when.source else problem.column
                findings.append(
                    Finding(
                        pos.file,
                        pos.line,
                        pos.column + offset,
                        "error",
                        problem.code,
                        f"rule {rule.id!r} condition: {problem.message}",
                    )
                )

    for route in policy.routes.values():
        route_kind = resources.get(route.resource)
        if route_kind is None:
            findings.append(
                _at(
                    route.position,
                    "error",
                    "AZ203",
                    f"route {route.view_name!r}: undefined resource {route.resource!r}{suggest(route.resource, resources)}",
                )
            )
        elif route.action not in route_kind.actions:
            findings.append(
                _at(
                    route.position,
                    "error",
                    "AZ204",
                    f"route {route.view_name!r}: resource {route_kind.name!r} has no action {route.action!r}{suggest(route.action, route_kind.actions)}",
                )
            )
        elif (
            route.target
            and not route.target.resolver
            and not (route.target.model or route_kind.model)
        ):
            findings.append(
                _at(
                    route.position,
                    "error",
                    "AZ104",
                    f"route {route.view_name!r}: the target needs a model (on the target or on resource {route_kind.name!r})",
                )
            )

    if inherited is not None and not any(f.severity == "error" for f in findings):
        findings.extend(_warnings(policy, inherited))


def _role_graph(policy: Policy) -> tuple[list[Finding], dict[str, frozenset[str]] | None]:
    """Cycles, then depth, then the size of the inheritance closure; the closure if all hold."""
    table = policy.roles
    found = role_graph.cycles(table)
    if found:
        return [
            _at(
                table[cycle[0]].position,
                "error",
                "AZ206",
                "role inheritance cycle: " + " -> ".join(cycle),
            )
            for cycle in found
        ], None
    depth = role_graph.depths(table)
    deep = [
        _at(
            role.position,
            "error",
            "AZ206",
            f"role {name!r} inherits through {depth[name]} levels; at most {role_graph.MAX_ROLE_DEPTH} are supported",
        )
        for name, role in table.items()
        if depth[name] > role_graph.MAX_ROLE_DEPTH
    ]
    if deep:
        return deep, None
    try:
        return [], role_graph.closures(table)
    except role_graph.ClosureTooLarge as exc:
        first = next(iter(table.values()))
        reason = (
            f"role inheritance is too large to check: the roles hold more than {exc.budget} "
            "inherited roles in all; inherit through fewer, shared roles"
        )
        return [_at(first.position, "error", "AZ210", reason)], None


def _warnings(policy: Policy, inherited: dict[str, frozenset[str]]) -> list[Finding]:
    out: list[Finding] = []
    shadows = _Shadows(policy, inherited)
    destructive = set(policy.destructive_actions)
    for rule in policy.rules:
        if rule.effect != "allow":
            continue
        denies = shadows.covering(rule)
        if denies:
            names = ", ".join(repr(d.id) for d in denies)
            verb = f"rule {names} denies" if len(denies) == 1 else f"rules {names} deny"
            out.append(
                _at(
                    rule.position,
                    "warning",
                    "AZ301",
                    f"rule {rule.id!r} can never take effect: {verb} the same without condition",
                )
            )
        kind = policy.resources[rule.resource]
        risky = [a for a in rule.actions if a in destructive or kind.actions[a].destructive]
        broad = [s for s in rule.subjects if s in BUILTIN_SUBJECTS]
        if risky and broad and (rule.when is None or not conditions.is_ownership(rule.when.tree)):
            out.append(
                _at(
                    rule.position,
                    "warning",
                    "AZ302",
                    f"rule {rule.id!r} lets {', '.join(repr(s) for s in broad)} {'/'.join(risky)} any {rule.resource} "
                    "with no ownership condition (IDOR risk): add e.g. `when: resource.owner == subject.id`",
                )
            )
    return out


class _Shadows:
    """The first unconditional deny per (kind, action, subject name), to find shadowed allows."""

    def __init__(self, policy: Policy, inherited: dict[str, frozenset[str]]) -> None:
        self.inherited = inherited
        self.first: dict[tuple[str, str], dict[str, tuple[int, Rule]]] = {}
        for number, rule in enumerate(policy.rules):
            if rule.effect == "deny" and rule.when is None:
                for action in rule.actions:
                    table = self.first.setdefault((rule.resource, action), {})
                    for subject in rule.subjects:
                        table.setdefault(subject, (number, rule))
        # The first deny on any inherited role, by (kind, action, inherited set): roles
        # share their inherited sets, so each pair is searched once.
        self._through: dict[tuple[str, str, int], tuple[frozenset[str], tuple[int, Rule] | None]]
        self._through = {}

    def covering(self, rule: Rule) -> list[Rule]:
        """Denies that together apply wherever ``rule`` would, in policy order; else ``[]``."""
        found: dict[int, Rule] = {}
        for action in rule.actions:
            key = (rule.resource, action)
            table = self.first.get(key)
            if table is None:
                return []
            for subject in rule.subjects:
                # A role holder has every role it inherits, so a deny on one of those applies.
                options = [table[name] for name in ("*", subject) if name in table]
                below = self._below(key, table, subject)
                if below is not None:
                    options.append(below)
                if not options:
                    return []
                number, deny = min(options, key=lambda d: d[0])
                found[number] = deny
        return [found[n] for n in sorted(found)]

    def _below(
        self, key: tuple[str, str], table: dict[str, tuple[int, Rule]], subject: str
    ) -> tuple[int, Rule] | None:
        below = self.inherited.get(subject)
        if not below:
            return None
        memo = (*key, id(below))
        known = self._through.get(memo)
        if known is None:
            first = None
            if not below.isdisjoint(table):
                smaller, larger = (below, table) if len(below) < len(table) else (table, below)
                first = min((table[n] for n in smaller if n in larger), key=lambda d: d[0])
            known = self._through[memo] = (below, first)
        return known[1]


# -- entry points ---------------------------------------------------------------------------------


def policy_files(paths: Seq[str | Path]) -> tuple[list[Path], list[Finding]]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, sorted by name."""
    files: list[Path] = []
    findings: list[Finding] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            if not found:
                findings.append(
                    Finding(
                        str(path), 1, 1, "error", "AZ001", "directory holds no .yaml policy files"
                    )
                )
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            findings.append(
                Finding(str(path), 1, 1, "error", "AZ001", "no such policy file or directory")
            )
    return files, findings


#: Checked documents by (path, content hash, limits). A reload re-parses only the files
#: whose bytes changed; the hash (not mtime) decides, so an edit is never missed.
_DOCUMENTS: dict[
    tuple[str, str, int, int | None], tuple[_Document | None, tuple[Finding, ...]]
] = {}
_DOCUMENTS_LIMIT = 256


def _read_document(
    path: Path, max_bytes: int, max_nodes: int | None
) -> tuple[_Document | None, tuple[Finding, ...]]:
    name = str(path)
    raw, problems = read_bytes(path, name, max_bytes)
    if raw is None:
        return None, tuple(problems)
    key = (name, hashlib.sha256(raw).hexdigest(), max_bytes, max_nodes)
    cached = _DOCUMENTS.get(key)
    if cached is not None:
        return cached
    tree, problems = parse_bytes(raw, name, max_nodes=max_nodes)
    doc = _DocumentReader(problems).read(tree, name) if tree is not None else None
    result = (doc, tuple(problems))
    if len(_DOCUMENTS) >= _DOCUMENTS_LIMIT:
        _DOCUMENTS.clear()
    _DOCUMENTS[key] = result
    return result


def lint_paths(
    paths: Seq[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> tuple[Policy | None, list[Finding]]:
    """Read, merge and check; returns the policy (None if it has errors) and all findings."""
    files, findings = policy_files(paths)
    if not files and not findings:
        findings.append(Finding("<policy>", 1, 1, "error", "AZ001", "no policy files given"))
    docs: list[_Document] = []
    with collector_paused():
        for path in files:
            doc, problems = _read_document(path, max_bytes, max_nodes)
            findings.extend(problems)
            if doc is not None:
                docs.append(doc)
        policy = _merge(docs, findings)
        check_semantics(policy, findings)
    findings.sort(key=lambda f: f.sort_key)
    failed = any(f.severity == "error" for f in findings)
    findings = capped(findings)
    if failed:
        return None, findings
    return policy, findings


#: Findings reported per file; the rest are counted in one last finding.
MAX_FINDINGS_PER_FILE = 100


def capped(findings: list[Finding], limit: int = MAX_FINDINGS_PER_FILE) -> list[Finding]:
    """The first ``limit`` findings of each file (in order), then one that counts the rest."""
    out: list[Finding] = []
    rest: dict[str, list[Finding]] = {}
    shown: dict[str, int] = {}
    for finding in findings:
        count = shown.get(finding.file, 0)
        if count < limit:
            shown[finding.file] = count + 1
            out.append(finding)
        else:
            rest.setdefault(finding.file, []).append(finding)
    for file, dropped in rest.items():
        errors = sum(f.severity == "error" for f in dropped)
        first = dropped[0]
        out.append(
            Finding(
                file,
                first.line,
                first.column,
                "error" if errors else "warning",
                "AZ009",
                f"{len(dropped)} more findings from here on are not shown ({errors} errors); "
                f"fix the first {limit} and lint again",
            )
        )
    out.sort(key=lambda f: f.sort_key)
    return out


def load_policy(
    paths: Seq[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> Policy:
    """Load and check policy files; raise ``PolicyError`` with every finding on any error."""
    policy, findings = lint_paths(paths, max_bytes=max_bytes, max_nodes=max_nodes)
    if policy is None:
        raise PolicyError(findings)
    return policy
