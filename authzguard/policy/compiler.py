"""Compile a ``Policy`` once into an immutable, indexed decision structure and Casbin text.

The indexed evaluator answers ``decide`` by looking up the rules for one (resource
kind, action) pair, with every condition compiled to a closure and every role's
inheritance closure precomputed. The Casbin model and rows produced here are the
reference: loaded into stock pycasbin they give the same decisions (tested).

Semantics (shared by both): a rule applies when its resource kind and action match
and one of its subjects is among the subject's effective roles (``*`` always,
``authenticated`` or ``anonymous``, every granted role and everything it inherits).
A deny that applies and whose condition holds denies; otherwise an allow that applies
and holds allows; otherwise deny. A condition that cannot be evaluated (an absent
attribute, a type that cannot be compared) denies the whole request.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from authzguard.exceptions import EvaluationError
from authzguard.policy import conditions
from authzguard.policy import roles as role_graph
from authzguard.policy.allocation import collector_paused
from authzguard.policy.model import (
    SUBJECT_ATTRIBUTES,
    Action,
    Condition,
    Decision,
    Policy,
    Resource,
    RouteBinding,
    Rule,
    Subject,
)

ROLE_PREFIX = "role:"

CASBIN_MODEL = """\
[request_definition]
r = sub, act, obj

[policy_definition]
p = sub, kind, act, cond, eft, rid

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.obj.kind == p.kind && r.act == p.act && True in [g(x, p.sub) for x in r.sub.roles] && eval(p.cond)
"""

Decider = Callable[[Subject, str, Resource], Decision]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: What a value of each declared attribute type may be. ``any`` is unchecked.
TYPE_CHECKS: Mapping[str, Callable[[object], bool]] = MappingProxyType(
    {
        "str": lambda v: isinstance(v, str),
        "int": _is_int,
        "bool": lambda v: isinstance(v, bool),
        "key": lambda v: isinstance(v, str) or _is_int(v),
        "list": lambda v: isinstance(v, (list, tuple)),
    }
)
#: Exact types that certainly fit, checked first because ``type(v) in set`` is cheaper than a
#: call (subclasses, and every misfit, still go through ``TYPE_CHECKS``).
_FITTING_TYPES: Mapping[str, frozenset[type]] = MappingProxyType(
    {
        "str": frozenset({str}),
        "int": frozenset({int}),
        "bool": frozenset({bool}),
        "key": frozenset({str, int}),
        "list": frozenset({list, tuple}),
    }
)
_SUBJECT_CHECKS = tuple(
    (name, kind, TYPE_CHECKS[kind], _FITTING_TYPES[kind])
    for name, kind in SUBJECT_ATTRIBUTES.items()
)
#: Exact types that compare with anything without failing (values, and list elements).
_PLAIN = frozenset({str, int, bool, float, type(None)})
_SEQUENCES = frozenset({list, tuple})
#: Bound on the per-policy caches (role sets and decision plans seen); cleared when full.
_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    subjects: frozenset[str]
    evaluator: conditions.Evaluator | None


class _Plan:
    """The rules of one (kind, action) that apply to one set of granted roles, in policy order.

    Built on the first request with that role set and reused: a decision then costs the
    conditions of the applicable rules only, however many rules share the bucket. The
    decisions naming a rule depend only on the rule and the role set, so they are kept too.
    """

    __slots__ = ("allows", "decisions", "denies", "no_match", "uses_env")

    def __init__(
        self,
        denies: tuple[_CompiledRule, ...],
        allows: tuple[_CompiledRule, ...],
        no_match: Decision,
    ) -> None:
        self.denies = denies
        self.allows = allows
        self.no_match = no_match
        self.uses_env = any(c.evaluator is not None for c in (*denies, *allows))
        self.decisions: dict[tuple[bool, str], Decision] = {}


def subject_env(subject: Subject) -> dict[str, object]:
    """The attributes a condition may read, absent ones left out."""
    env: dict[str, object] = {}
    if subject.id is not None:
        env["id"] = subject.id
    if subject.username is not None:
        env["username"] = subject.username
    if subject.email is not None:
        env["email"] = subject.email
    return env


def resource_env(resource: Resource) -> dict[str, object]:
    return {k: v for k, v in resource.attributes.items() if v is not None}


def canonical(policy: Policy) -> dict[str, object]:
    """A JSON-able form of everything that changes decisions or bindings (no positions)."""
    texts: dict[str, str] = {}

    def text_of(when: Condition) -> str:
        # Rules repeat conditions word for word: render each one once. A Condition's tree
        # is what its source parses to, so equal sources have equal canonical texts.
        text = texts.get(when.source)
        if text is None:
            text = texts[when.source] = conditions.to_text(when.tree)
        return text

    return {
        "roles": {
            name: {
                "inherits": sorted(role.inherits),
                "granted_to": sorted(str(s) for s in role.granted_to),
            }
            for name, role in sorted(policy.roles.items())
        },
        "resources": {
            name: {
                "model": kind.model,
                "actions": {
                    a.name: {"safe": a.safe, "methods": a.methods, "destructive": a.destructive}
                    for a in sorted(kind.actions.values(), key=lambda a: a.name)
                },
                "attributes": {
                    a.name: {"type": a.type, "field": a.field}
                    for a in sorted(kind.attributes.values(), key=lambda a: a.name)
                },
            }
            for name, kind in sorted(policy.resources.items())
        },
        "rules": [
            {
                "id": rule.id,
                "effect": rule.effect,
                "subjects": sorted(rule.subjects),
                "actions": sorted(rule.actions),
                "resource": rule.resource,
                "when": text_of(rule.when) if rule.when else None,
            }
            for rule in policy.rules
        ],
        "routes": {
            name: {
                "action": route.action,
                "resource": route.resource,
                "target": None
                if route.target is None
                else {
                    "param": route.target.param,
                    "source": route.target.source,
                    "model": route.target.model,
                    "field": route.target.field,
                    "resolver": route.target.resolver,
                    "pass_as": route.target.pass_as,
                    "max_length": route.target.max_length,
                },
            }
            for name, route in sorted(policy.routes.items())
        },
        "destructive_actions": sorted(policy.destructive_actions),
    }


def policy_version(policy: Policy) -> str:
    text = json.dumps(canonical(policy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class CompiledPolicy:
    """An immutable, ready-to-decide policy. Safe to share between threads."""

    __slots__ = (
        "_allow_subjects",
        "_attribute_checks",
        "_decider",
        "_direct_cache",
        "_effective_cache",
        "_group_pairs",
        "_group_reach",
        "_group_reads",
        "_group_roles",
        "_index",
        "_inherited",
        "_plans",
        "_source_roles",
        "policy",
        "uses_groups",
        "version",
    )

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.version = policy_version(policy)
        #: What holding each role brings through inheritance (the role itself excluded).
        self._inherited: Mapping[str, frozenset[str]] = MappingProxyType(
            role_graph.closures(policy.roles)
        )
        index: dict[tuple[str, str], tuple[list[_CompiledRule], list[_CompiledRule]]] = {}
        # Rules that repeat a condition word for word share one evaluator (a pure function
        # of the tree, and a Condition's tree is what its source parses to).
        evaluators: dict[str, conditions.Evaluator] = {}
        for rule in policy.rules:
            evaluator = None
            if rule.when is not None:
                evaluator = evaluators.get(rule.when.source)
                if evaluator is None:
                    evaluator = evaluators[rule.when.source] = conditions.compile_evaluator(
                        rule.when.tree
                    )
            compiled = _CompiledRule(rule, frozenset(rule.subjects), evaluator)
            for action in rule.actions:
                denies, allows = index.setdefault((rule.resource, action), ([], []))
                (denies if rule.effect == "deny" else allows).append(compiled)
        self._index: Mapping[
            tuple[str, str], tuple[tuple[_CompiledRule, ...], tuple[_CompiledRule, ...]]
        ] = MappingProxyType({key: (tuple(d), tuple(a)) for key, (d, a) in index.items()})
        allow_subjects: dict[tuple[str, str], set[str]] = {}
        named: dict[tuple[str, str], set[str]] = {}
        for rule in policy.rules:
            for action in rule.actions:
                named.setdefault((rule.resource, action), set()).update(rule.subjects)
                if rule.effect == "allow":
                    allow_subjects.setdefault((rule.resource, action), set()).update(rule.subjects)
        self._allow_subjects: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType(
            {key: frozenset(names) for key, names in allow_subjects.items()}
        )
        source_roles: dict[str, set[str]] = {}
        group_roles: dict[str, set[str]] = {}
        for role in policy.roles.values():
            for source in role.granted_to:
                if source.kind == "group" and source.group is not None:
                    group_roles.setdefault(source.group, set()).add(role.name)
                else:
                    source_roles.setdefault(source.kind, set()).add(role.name)
        self._source_roles = {k: frozenset(v) for k, v in source_roles.items()}
        self._group_roles = {k: frozenset(v) for k, v in group_roles.items()}
        self.uses_groups = bool(group_roles)
        # The (kind, action) pairs where a group-granted role (or one it inherits) is named
        # by some rule: only there can a group query change a decision.
        group_reach = {r for rs in group_roles.values() for r in rs}
        for below in {id(s): s for s in map(self._inherited.__getitem__, group_reach)}.values():
            group_reach.update(below)
        self._group_pairs = frozenset(
            key for key, names in named.items() if not names.isdisjoint(group_reach)
        )
        self._group_reach = frozenset(group_reach)
        #: Per pair, filled on first use (see ``groups_could_change``).
        self._group_reads: dict[tuple[str, str], tuple[tuple[str, str, bool], ...] | None] = {}
        self._effective_cache: dict[tuple[frozenset[str], bool], frozenset[str]] = {}
        self._direct_cache: dict[tuple[bool, bool, bool], frozenset[str]] = {}
        self._attribute_checks = {
            kind.name: tuple(
                (a.name, a.type, TYPE_CHECKS[a.type], _FITTING_TYPES[a.type])
                for a in kind.attributes.values()
                if a.type in TYPE_CHECKS
            )
            for kind in policy.resources.values()
        }
        self._plans: dict[tuple[str, str, frozenset[str], bool], _Plan] = {}
        self._decider: Decider = self._decide_indexed

    # -- public API --

    @property
    def routes(self) -> Mapping[str, RouteBinding]:
        return self.policy.routes

    def action(self, kind: str, name: str) -> Action:
        """The declared action ``name`` of resource ``kind`` (``KeyError`` if undeclared)."""
        return self.policy.resources[kind].actions[name]

    def with_decider(self, factory: Callable[[CompiledPolicy], Decider]) -> CompiledPolicy:
        """A copy of this policy whose ``decide`` is ``factory(copy)`` (e.g. the Casbin engine)."""
        clone = CompiledPolicy.__new__(CompiledPolicy)
        for name in self.__slots__:
            object.__setattr__(clone, name, getattr(self, name))
        clone._effective_cache = {}
        clone._plans = {}
        clone._decider = factory(clone)
        return clone

    def direct_roles(
        self,
        *,
        authenticated: bool,
        superuser: bool = False,
        staff: bool = False,
        groups: Iterable[str] = (),
    ) -> frozenset[str]:
        """The roles the policy grants to a Django user with these facts."""
        if not groups:
            # Without groups there are eight possible answers: remember them.
            key = (authenticated, superuser, staff)
            known = self._direct_cache.get(key)
            if known is None:
                known = self._direct_cache[key] = self._direct_roles(
                    authenticated, superuser, staff, ()
                )
            return known
        return self._direct_roles(authenticated, superuser, staff, groups)

    def _direct_roles(
        self, authenticated: bool, superuser: bool, staff: bool, groups: Iterable[str]
    ) -> frozenset[str]:
        found: set[str] = set()
        table = self._source_roles
        found.update(table.get("authenticated" if authenticated else "anonymous", ()))
        if authenticated and superuser:
            found.update(table.get("superuser", ()))
        if authenticated and staff:
            found.update(table.get("staff", ()))
        if authenticated:
            for group in groups:
                found.update(self._group_roles.get(group, ()))
        return frozenset(found)

    def could_allow(self, subject: Subject, action: str, kind: str) -> bool:
        """``False`` only when no allow rule can apply to ``subject``, whatever the target.

        The applicability test of ``decide`` without the conditions: the route-level
        check that lets a guard deny before looking any object up.
        """
        names = self._allow_subjects.get((kind, action))
        return names is not None and not names.isdisjoint(self.effective_roles(subject))

    def groups_matter(self, kind: str, action: str) -> bool:
        """Whether Django group membership can change any decision on ``action`` over ``kind``."""
        return (kind, action) in self._group_pairs

    def groups_could_change(
        self, decision: Decision, subject: Subject, action: str, resource: Resource
    ) -> bool:
        """Whether ``subject``'s group-granted roles, left out, could change ``decision``.

        ``decision`` is what :meth:`decide` answered for ``subject`` without the roles that
        Django groups grant. More roles only make more rules apply, so a deny by a rule,
        or by a condition that failed, stands whatever the groups. An allow stands when no
        rule reachable through a group-granted role on the pair is a deny and none of
        those rules' conditions can fail on this request: every attribute they read is
        present, none is typed ``any``, every value is exactly a string, number or
        boolean, or a plain list or tuple of those (such values compare without failing;
        a subclass may not, and the declared type of every other attribute is checked
        before any rule runs). The rule named may then
        differ from the one a decision with every role names, as when two allow rules
        both hold; the outcome never does.
        """
        key = (resource.kind, action)
        if key not in self._group_pairs:
            return False
        if not decision.allowed:
            return decision.rule is None and decision.error is None
        try:
            reads = self._group_reads[key]
        except KeyError:
            reads = self._group_reads[key] = self._reads_through_groups(key)
        if reads is None:
            return True
        attributes = resource.attributes
        for scope, name, is_list in reads:
            value = getattr(subject, name) if scope == "subject" else attributes.get(name)
            # Exact types only: a subclass passes the declared-type check but may compare
            # (or test membership) by code of its own, which can fail.
            if is_list:
                if type(value) not in _SEQUENCES or not all(
                    type(item) in _PLAIN
                    for item in value  # type: ignore[union-attr]
                ):
                    return True
            elif value is None or type(value) not in _PLAIN:
                return True
        return False

    def _reads_through_groups(
        self, key: tuple[str, str]
    ) -> tuple[tuple[str, str, bool], ...] | None:
        """The attributes read by the rules of ``key`` that a group-granted role may make
        apply; ``None`` when one of them is a deny or may fail on present attributes."""
        group_reach = self._group_reach
        denies, allows = self._index.get(key, ((), ()))
        if any(not c.subjects.isdisjoint(group_reach) for c in denies):
            return None
        types = {name: a.type for name, a in self.policy.resources[key[0]].attributes.items()}
        reads: set[tuple[str, str, bool]] = set()
        for compiled in allows:
            when = compiled.rule.when
            if when is None or compiled.subjects.isdisjoint(group_reach):
                continue
            for ref in conditions.refs(when.tree):
                table = SUBJECT_ATTRIBUTES if ref.scope == "subject" else types
                declared = table.get(ref.name, "any")
                if declared == "any":
                    return None
                reads.add((ref.scope, ref.name, declared == "list"))
        return tuple(sorted(reads))

    def effective_roles(self, subject: Subject) -> frozenset[str]:
        """Every subject name a rule may match for this subject, including built-ins."""
        key = (subject.roles, subject.authenticated)
        cached = self._effective_cache.get(key)
        if cached is not None:
            return cached
        found = {"*", "authenticated" if subject.authenticated else "anonymous"}
        for role in subject.roles:
            found.add(role)
            found.update(self._inherited.get(role, ()))
        result = frozenset(found)
        if len(self._effective_cache) > _CACHE_LIMIT:
            self._effective_cache.clear()
        self._effective_cache[key] = result
        return result

    def decide(self, subject: Subject, action: str, resource: Resource) -> Decision:
        """Decide one request. Never raises: any failure is a deny that says why.

        Attribute values are checked against their declared types first, so no rule is
        ever evaluated on a value of the wrong type (a string where a list is declared
        would otherwise make ``in`` a substring test).
        """
        try:
            problem = self.type_problem(subject, resource)
            if problem is not None:
                return Decision(False, None, f"denied: {problem}", error=problem)
            return self._decider(subject, action, resource)
        except Exception as exc:  # fail closed, whatever went wrong
            return Decision(False, None, f"denied: evaluation failed ({exc})", error=repr(exc))

    def type_problem(self, subject: Subject, resource: Resource) -> str | None:
        """Why an attribute value does not fit its declared type, or ``None``."""
        for name, kind, fits, fitting in _SUBJECT_CHECKS:
            value = getattr(subject, name)
            if value is not None and type(value) not in fitting and not fits(value):
                return f"subject.{name} is a {type(value).__name__}, not a {kind}"
        attributes = resource.attributes
        for name, kind, fits, fitting in self._attribute_checks.get(resource.kind, ()):
            value = attributes.get(name)
            if value is not None and type(value) not in fitting and not fits(value):
                return f"resource.{name} is a {type(value).__name__}, not a {kind}"
        return None

    # -- the indexed evaluator --

    def _plan(self, subject: Subject, action: str, kind: str) -> _Plan:
        bucket = self._index.get((kind, action))
        if bucket is None:
            plan = _Plan(
                (), (), Decision(False, None, f"denied: no rule grants {action!r} on {kind!r}")
            )
        else:
            roles = self.effective_roles(subject)
            denies, allows = bucket
            plan = _Plan(
                tuple(c for c in denies if not c.subjects.isdisjoint(roles)),
                tuple(c for c in allows if not c.subjects.isdisjoint(roles)),
                Decision(False, None, f"denied: no rule matched {action!r} on {kind!r}"),
            )
        if len(self._plans) > _CACHE_LIMIT:
            self._plans.clear()
        self._plans[(kind, action, subject.roles, subject.authenticated)] = plan
        return plan

    def _decide_indexed(self, subject: Subject, action: str, resource: Resource) -> Decision:
        plan = self._plans.get((resource.kind, action, subject.roles, subject.authenticated))
        if plan is None:
            plan = self._plan(subject, action, resource.kind)
        # Only conditions read the environments: skip building them when no rule has one.
        s_env = subject_env(subject) if plan.uses_env else {}
        r_env = resource_env(resource) if plan.uses_env else {}
        # ``value is True or (value is not False and truth(value))`` is ``truth(value)``,
        # without a call for the booleans that conditions almost always produce.
        truth = conditions.truth
        try:
            for compiled in plan.denies:
                evaluator = compiled.evaluator
                if evaluator is None:
                    return self._decision(False, compiled, subject, plan)
                value = evaluator(s_env, r_env)
                if value is True or (value is not False and truth(value)):
                    return self._decision(False, compiled, subject, plan)
            chosen: _CompiledRule | None = None
            for compiled in plan.allows:
                # Every applicable condition is evaluated, as Casbin does: one that fails denies.
                evaluator = compiled.evaluator
                if evaluator is None:
                    holds = True
                else:
                    value = evaluator(s_env, r_env)
                    holds = value is True or (value is not False and truth(value))
                if holds and chosen is None:
                    chosen = compiled
        except EvaluationError as exc:
            return Decision(
                False, None, f"denied: a condition could not be evaluated ({exc})", error=str(exc)
            )
        if chosen is None:
            return plan.no_match
        return self._decision(True, chosen, subject, plan)

    def _decision(
        self, allowed: bool, compiled: _CompiledRule, subject: Subject, plan: _Plan
    ) -> Decision:
        key = (allowed, compiled.rule.id)
        decision = plan.decisions.get(key)
        if decision is None:
            decision = plan.decisions[key] = self._rule_decision(allowed, compiled, subject)
        return decision

    def _rule_decision(self, allowed: bool, compiled: _CompiledRule, subject: Subject) -> Decision:
        chain = self.chain(subject, compiled.rule)
        verb = "allowed" if allowed else "denied"
        via = f" via {' -> '.join(chain)}" if chain else ""
        return Decision(
            allowed, compiled.rule.id, f"{verb} by rule {compiled.rule.id!r}{via}", chain
        )

    def chain(self, subject: Subject, rule: Rule) -> tuple[str, ...]:
        """How the subject came to match ``rule``: built-in name, or granted role -> ... -> role."""
        best: tuple[str, ...] | None = None
        for name in rule.subjects:
            if name in ("*", "authenticated", "anonymous"):
                if name == "*" or (name == "authenticated") == subject.authenticated:
                    candidate: tuple[str, ...] = (name,)
                    best = candidate if best is None or len(candidate) < len(best) else best
                continue
            for role in sorted(subject.roles):
                path = self._path(role, name)
                if path is not None and (best is None or len(path) < len(best)):
                    best = path
        return best or ()

    def _path(self, start: str, target: str) -> tuple[str, ...] | None:
        """The shortest inheritance path from role ``start`` to role ``target``, if any.

        Breadth-first over the roles that lead to ``target`` only, in the order written.
        """
        inherited, roles = self._inherited, self.policy.roles
        if start != target and target not in inherited.get(start, ()):
            return None
        previous: dict[str, str] = {start: start}
        frontier = deque([start])
        while frontier:
            name = frontier.popleft()
            if name == target:
                path = [name]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return tuple(reversed(path))
            for parent in roles[name].inherits:
                if parent not in previous and (parent == target or target in inherited[parent]):
                    previous[parent] = name
                    frontier.append(parent)
        return None  # pragma: no cover - target is inherited, so a path exists

    # -- Casbin text --

    def casbin_model(self) -> str:
        return CASBIN_MODEL

    def casbin_rows(self) -> list[list[str]]:
        """``p`` rows (one per rule, subject and action) then ``g`` rows (inheritance)."""
        rows: list[list[str]] = []
        for rule in self.policy.rules:
            cond = conditions.to_casbin(rule.when.tree) if rule.when else "True"
            for subject in rule.subjects:
                for action in rule.actions:
                    rows.append(
                        [
                            "p",
                            ROLE_PREFIX + subject,
                            rule.resource,
                            action,
                            cond,
                            rule.effect,
                            rule.id,
                        ]
                    )
        for role in self.policy.roles.values():
            for parent in role.inherits:
                rows.append(["g", ROLE_PREFIX + role.name, ROLE_PREFIX + parent])
        return rows

    def casbin_policy_csv(self) -> str:
        return "".join(", ".join(row) + "\n" for row in self.casbin_rows())

    @staticmethod
    def casbin_subject_roles(subject: Subject) -> list[str]:
        """The role names a Casbin request carries for this subject (inheritance is Casbin's)."""
        names = [
            "*",
            "authenticated" if subject.authenticated else "anonymous",
            *sorted(subject.roles),
        ]
        return [ROLE_PREFIX + n for n in names]


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a loaded policy (see ``load_policy``) into a ``CompiledPolicy``."""
    with collector_paused():
        return CompiledPolicy(policy)
