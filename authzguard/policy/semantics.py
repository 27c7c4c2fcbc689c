"""Meaning checks over the merged policy: references, role graph, conditions' types, risks.

Every walk is bounded by the size of the policy (``roles`` for the role graph, an index
of unconditional denies for shadowed rules, a budget for "did you mean" hints).
"""

from __future__ import annotations

from typing import TypeVar, cast

from authzguard.exceptions import ConditionError
from authzguard.policy import conditions
from authzguard.policy import roles as role_graph
from authzguard.policy.document import Document
from authzguard.policy.findings import Finding, Severity
from authzguard.policy.hardening import broad_roles, condition_findings
from authzguard.policy.model import (
    BUILTIN_SUBJECTS,
    DEFAULT_DESTRUCTIVE_ACTIONS,
    SUBJECT_ATTRIBUTES,
    Policy,
    Position,
    ResourceKind,
    Role,
    RouteBinding,
    Rule,
)
from authzguard.policy.suggest import Suggestions

T = TypeVar("T")


def merge(docs: list[Document], findings: list[Finding]) -> Policy:
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
    # Subject names every signed-in user or every visitor matches, through grants too.
    everyone = BUILTIN_SUBJECTS | broad_roles(policy)
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
        broad = [s for s in rule.subjects if s in everyone]
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
    out.extend(condition_findings(policy))
    return out


def _order(deny: tuple[int, Rule]) -> int:
    return deny[0]


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
                number, deny = min(options, key=_order)
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
            if len(below) < len(table):
                first = min((table[n] for n in below if n in table), default=None, key=_order)
            elif not below.isdisjoint(table):
                # The table holds names in the order of their first deny: the first hit wins.
                first = next(table[n] for n in table if n in below)
            known = self._through[memo] = (below, first)
        return known[1]
