"""One policy file's definitions, read from its node tree: roles, resources, rules, routes.

Checks the shape of each section (keys, types, names, conditions' syntax); references
between definitions are checked once the files are merged (``semantics``).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from typing import cast

from authzguard.exceptions import ConditionError
from authzguard.policy import conditions
from authzguard.policy.findings import Finding
from authzguard.policy.model import (
    BUILTIN_SUBJECTS,
    DEFAULT_SAFE_ACTIONS,
    Action,
    Attribute,
    AttributeType,
    Condition,
    Effect,
    Position,
    ResourceKind,
    Role,
    RoleSource,
    RouteBinding,
    Rule,
)
from authzguard.policy.reader import (
    ATTRIBUTE_RE,
    ATTRIBUTE_TYPES,
    FIELD_RE,
    HTTP_METHODS,
    MODEL_RE,
    NAME_RE,
    RESERVED_ATTRIBUTES,
    ROLE_SOURCES,
    RULE_ID_RE,
    SAFE_METHODS,
    SUBJECT_RE,
    SUPPORTED_VERSIONS,
    Reader,
    position,
)
from authzguard.policy.route_reader import RouteReader
from authzguard.policy.source import Mapping, Node, Scalar, Sequence, describe


@dataclass
class Document:
    """One file's definitions, before merging."""

    file: str
    roles: dict[str, Role] = field(default_factory=dict)
    resources: dict[str, ResourceKind] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    routes: dict[str, RouteBinding] = field(default_factory=dict)
    destructive: list[str] | None = None


class DocumentReader(Reader):
    def read(self, tree: Node, file: str) -> Document:
        doc = Document(file)
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
            doc.routes.update(RouteReader(self.findings).routes(node))
        if (node := top.get("lint")) is not None:
            self._lint(node, doc)
        return doc

    # -- roles --

    def _roles(self, node: Node, doc: Document) -> None:
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
            doc.roles[name] = Role(name, inherits, granted, self._description(spec), position(key))

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
            if text not in ROLE_SOURCES:
                more = self.suggest(text, ROLE_SOURCES)
                self.report(
                    item,
                    "AZ105",
                    f"unknown role source {text!r} (one of {', '.join(ROLE_SOURCES)}, or {{group: NAME}}){more}",
                )
                continue
            out.append(RoleSource(text))
        return tuple(out)

    # -- resources --

    def _resources(self, node: Node, doc: Document) -> None:
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
                name, actions, attributes, model, self._description(spec), position(key)
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
                out[name] = Action(name, name in DEFAULT_SAFE_ACTIONS, position=position(item))
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
            self.keys(
                spec,
                f"action {name!r}",
                ("safe", "methods", "destructive", "filterable", "description"),
            )
            safe = name in DEFAULT_SAFE_ACTIONS
            if (s := spec.get("safe")) is not None:
                safe = bool(self.boolean(s, f"action {name!r} safe"))
            destructive = False
            if (d := spec.get("destructive")) is not None:
                destructive = bool(self.boolean(d, f"action {name!r} destructive"))
            methods = None
            if (m := spec.get("methods")) is not None:
                methods = self._methods(m, name, safe)
            filterable = False
            if (f := spec.get("filterable")) is not None:
                filterable = bool(self.boolean(f, f"action {name!r} filterable"))
            out[name] = Action(
                name, safe, methods, destructive, self._description(spec), position(key), filterable
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
                    out[name] = Attribute(name, "any", None, position(item))
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
                    out[name] = Attribute(name, kind, None, position(key))
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
                out[name] = Attribute(name, kind, fld, position(key))
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

    def _rules(self, node: Node, doc: Document) -> None:
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
                        position(spec),
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

    def _lint(self, node: Node, doc: Document) -> None:
        spec = self.mapping(node, "lint")
        if spec is None:
            return
        self.keys(spec, "lint", ("destructive_actions",))
        if (n := spec.get("destructive_actions")) is not None:
            doc.destructive = [
                name
                for name, _ in self.names(n, "destructive_actions", ATTRIBUTE_RE, "action name")
            ]
