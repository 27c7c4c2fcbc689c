"""Compile a ``Policy`` once into an immutable, indexed decision structure.

Semantics (shared with the Casbin text of ``casbin_text``): a rule applies when its
resource kind and action match and one of its subjects is among the subject's effective
roles (``*`` always, ``authenticated`` or ``anonymous``, every granted role and
everything it inherits). A deny that applies and whose condition holds denies; otherwise
an allow that applies and holds allows; otherwise deny. A condition that cannot be
evaluated (an absent attribute, a type that cannot be compared) denies the whole request.

The index (``index``) holds, per (kind, action), the rules in policy order and per role
the mask of those it makes apply. A decision ORs the masks of the subject's roles and
visits the rules of the result, so it costs the rules that apply to the subject, not the
rules of the pair, and nothing is cached per request or per role set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from authzguard.exceptions import EvaluationError
from authzguard.policy import casbin_text, conditions
from authzguard.policy import roles as role_graph
from authzguard.policy.allocation import collector_paused
from authzguard.policy.index import (
    IndexedRule,
    build_buckets,
    no_match_decision,
    rule_decision,
    table_budget,
)
from authzguard.policy.model import (
    BUILTIN_SUBJECTS,
    SUBJECT_ATTRIBUTES,
    Action,
    Decision,
    Policy,
    Resource,
    RouteBinding,
    Rule,
    Subject,
)
from authzguard.policy.version import policy_version

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
#: Exact types that certainly fit, checked first (``type(v) in set`` is cheaper than a call).
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


def subject_env(subject: Subject) -> dict[str, object]:
    """The attributes a condition may read, absent ones left out."""
    env: dict[str, object] = {}
    if subject.id is not None:
        env["id"] = subject.id
    if subject.username is not None:
        env["username"] = subject.username
    if subject.email is not None:
        env["email"] = subject.email
    if subject.groups is not None:
        # A list, as list attributes are: ``subject.groups == ["a"]`` compares like them.
        env["groups"] = list(subject.groups)
    return env


def resource_env(resource: Resource) -> dict[str, object]:
    return {k: v for k, v in resource.attributes.items() if v is not None}


class CompiledPolicy:
    """An immutable, ready-to-decide policy. Safe to share between threads."""

    __slots__ = (
        "_allow_subjects",
        "_attribute_checks",
        "_buckets",
        "_decider",
        "_direct_roles",
        "_exact_types",
        "_group_pairs",
        "_group_reads",
        "_group_roles",
        "_groups_read",
        "_inherited",
        "_paths",
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
        # A plain dict, never written after this: read once per decision, and a
        # mappingproxy's ``get`` costs a second method call.
        self._buckets = build_buckets(policy, self._inherited)
        paths = role_graph.shortest_paths(policy.roles, self._inherited, table_budget(policy))
        #: The inheritance path of each (role, role it inherits), or ``None`` when the
        #: policy's inheritance is too large to tabulate (``_path`` then walks the graph).
        self._paths = None if paths is None else MappingProxyType(paths)
        self._allow_subjects: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType(
            {key: names for key, b in self._buckets.items() if (names := b.names("allow"))}
        )
        source_roles: dict[str, set[str]] = {}
        group_roles: dict[str, set[str]] = {}
        for role in policy.roles.values():
            for source in role.granted_to:
                if source.kind == "group" and source.group is not None:
                    group_roles.setdefault(source.group, set()).add(role.name)
                else:
                    source_roles.setdefault(source.kind, set()).add(role.name)
        self._source_roles = MappingProxyType({k: frozenset(v) for k, v in source_roles.items()})
        self._group_roles = MappingProxyType({k: frozenset(v) for k, v in group_roles.items()})
        #: The (kind, action) pairs with a condition reading ``subject.groups``.
        self._groups_read = _pairs_reading_groups(policy)
        self.uses_groups = bool(group_roles) or bool(self._groups_read)
        # Without groups there are eight possible answers: all of them, once.
        self._direct_roles = MappingProxyType(
            {
                (a, su, st): self._roles_for(a, su, st, ())
                for a in (False, True)
                for su in (False, True)
                for st in (False, True)
            }
        )
        group_reach = self._reach({r for rs in group_roles.values() for r in rs})
        # The (kind, action) pairs where a group-granted role (or one it inherits) is named
        # by some rule, or a condition reads subject.groups: only there can a group query
        # change a decision.
        self._group_pairs = self._groups_read | frozenset(
            key for key, bucket in self._buckets.items() if not group_reach.isdisjoint(bucket.named)
        )
        self._group_reads = MappingProxyType(
            {key: self._reads_through_groups(key, group_reach) for key in self._group_pairs}
        )
        self._attribute_checks = MappingProxyType(
            {
                kind.name: tuple(
                    (a.name, a.type, TYPE_CHECKS[a.type], _FITTING_TYPES[a.type])
                    for a in kind.attributes.values()
                    if a.type in TYPE_CHECKS
                )
                for kind in policy.resources.values()
            }
        )
        #: Per kind, the declared attributes with the exact types that fit them, and
        #: those of type ``any`` (see ``_exactly_typed``).
        self._exact_types = MappingProxyType(
            {
                kind.name: (
                    tuple(
                        (a.name, _FITTING_TYPES[a.type])
                        for a in kind.attributes.values()
                        if a.type in _FITTING_TYPES
                    ),
                    tuple(a.name for a in kind.attributes.values() if a.type not in _FITTING_TYPES),
                )
                for kind in policy.resources.values()
            }
        )
        #: Another engine's ``decide`` (see ``with_decider``); ``None`` for the index.
        self._decider: Decider | None = None

    def _reach(self, names: set[str]) -> frozenset[str]:
        """``names`` and every role they inherit."""
        found = set(names)
        # Roles share their inherited sets: add each distinct one once.
        for below in {id(s): s for s in (self._inherited.get(n, ()) for n in names)}.values():
            found.update(below)
        return frozenset(found)

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
            return self._direct_roles[(authenticated, superuser, staff)]
        return self._roles_for(authenticated, superuser, staff, groups)

    def _roles_for(
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

    def applicable_rules(
        self, subject: Subject, action: str, kind: str
    ) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        """The deny and the allow rules that apply to ``subject`` on ``action`` over
        ``kind``, each in policy order: the rules ``decide`` evaluates, from its index."""
        bucket = self._buckets.get((kind, action))
        if bucket is None:
            return (), ()
        mask = bucket.mask(subject.authenticated, subject.roles, self._inherited)
        denies, allows = mask & bucket.denies, mask & ~bucket.denies
        return tuple(c.rule for c in bucket.picked(denies)), tuple(
            c.rule for c in bucket.picked(allows)
        )

    def groups_matter(self, kind: str, action: str) -> bool:
        """Whether Django group membership can change any decision on ``action`` over ``kind``."""
        return (kind, action) in self._group_pairs

    def groups_could_change(
        self, decision: Decision, subject: Subject, action: str, resource: Resource
    ) -> bool:
        """Whether the roles Django groups grant, left out of ``decision``, could change it.

        More roles only make more rules apply, so a deny by a rule stands. An allow stands
        when no rule reachable through a group role on the pair is a deny and none of their
        conditions can fail on these values (present, and exactly of plain types). The
        rule named may then differ from a decision with every role; the outcome cannot.
        """
        key = (resource.kind, action)
        if key not in self._group_pairs:
            return False
        if key in self._groups_read:
            return True  # a condition reads the groups themselves
        if not decision.allowed:
            return decision.rule is None and decision.error is None
        reads = self._group_reads[key]
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
        self, key: tuple[str, str], group_reach: frozenset[str]
    ) -> tuple[tuple[str, str, bool], ...] | None:
        """The attributes read by the rules of ``key`` that a group-granted role may make
        apply; ``None`` when one of them is a deny or may fail on present attributes."""
        bucket = self._buckets[key]
        reached = 0
        for name, bits in bucket.named.items():
            if name in group_reach:
                reached |= bits
        if reached & bucket.denies:
            return None
        types = {name: a.type for name, a in self.policy.resources[key[0]].attributes.items()}
        reads: set[tuple[str, str, bool]] = set()
        for compiled in bucket.picked(reached):
            when = compiled.rule.when
            if when is None:
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
        builtin = ("*", "authenticated" if subject.authenticated else "anonymous")
        return self._held(subject).union(builtin)

    def _held(self, subject: Subject) -> frozenset[str]:
        """The roles granted to ``subject`` and every role they inherit."""
        return role_graph.held(subject.roles, self._inherited)

    def decide(self, subject: Subject, action: str, resource: Resource) -> Decision:
        """Decide one request. Never raises: any failure is a deny that says why.

        Attribute values are checked against their declared types first, so no rule is
        ever evaluated on a value of the wrong type (a string where a list is declared
        would otherwise make ``in`` a substring test).
        """
        try:
            if self._decider is None:
                return self._decide_indexed(subject, action, resource)
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

    def _exactly_typed(self, subject: Subject, resource: Resource) -> bool:
        """Whether ``type_problem`` has nothing to say and no declared attribute of the
        resource is absent or ``None``, checked by exact types only: then conditions can
        read ``resource.attributes`` as they are (``resource_env`` leaves out ``None``)."""
        for name, _, _, fitting in _SUBJECT_CHECKS:
            value = getattr(subject, name)
            if value is not None and type(value) not in fitting:
                return False
        attributes = resource.attributes
        typed, untyped = self._exact_types[resource.kind]
        try:
            for name, fitting in typed:
                if type(attributes[name]) not in fitting:
                    return False
            for name in untyped:
                if attributes[name] is None:
                    return False
        except KeyError:
            return False
        return True

    def _decide_indexed(self, subject: Subject, action: str, resource: Resource) -> Decision:
        bucket = self._buckets.get((resource.kind, action))
        r_env: Mapping[str, object]
        if bucket is not None and self._exactly_typed(subject, resource):
            r_env = resource.attributes
        else:
            problem = self.type_problem(subject, resource)
            if problem is not None:
                return Decision(False, None, f"denied: {problem}", error=problem)
            if bucket is None:
                kind = resource.kind
                return Decision(False, None, f"denied: no rule grants {action!r} on {kind!r}")
            r_env = resource_env(resource)
        mask = bucket.mask(subject.authenticated, subject.roles, self._inherited)
        # Only conditions read the environments: skip building them when none applies.
        s_env = subject_env(subject) if mask & bucket.conditional else {}
        try:
            compiled = bucket.deciding_rule(mask, s_env, r_env)
        except EvaluationError as exc:
            return Decision(
                False, None, f"denied: a condition could not be evaluated ({exc})", error=str(exc)
            )
        if compiled is None:
            return no_match_decision(bucket, bucket.picked(mask & ~bucket.denies))
        return self._decision(compiled, subject)

    def no_match(self, subject: Subject, action: str, kind: str) -> Decision:
        """The deny when no rule holds: the one reason every engine gives for it."""
        bucket = self._buckets.get((kind, action))
        if bucket is None:
            return Decision(False, None, f"denied: no rule grants {action!r} on {kind!r}")
        mask = bucket.mask(subject.authenticated, subject.roles, self._inherited)
        return no_match_decision(bucket, bucket.picked(mask & ~bucket.denies))

    def _decision(self, compiled: IndexedRule, subject: Subject) -> Decision:
        # A subject named directly by the rule (the usual case) has a decision ready.
        authenticated = "authenticated" if subject.authenticated else "anonymous"
        for name, decision in compiled.direct:
            if name == "*" or name == authenticated or name in subject.roles:
                return decision
        return rule_decision(compiled.rule, self.chain(subject, compiled.rule))

    def chain(self, subject: Subject, rule: Rule) -> tuple[str, ...]:
        """How the subject came to match ``rule``: built-in name, or granted role -> ... -> role."""
        best: tuple[str, ...] | None = None
        for name in rule.subjects:
            if name in BUILTIN_SUBJECTS:
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
        """The shortest inheritance path from role ``start`` to role ``target``, if any."""
        if start == target:
            return (start,)
        if self._paths is not None:
            return self._paths.get((start, target))
        return role_graph.path_between(self.policy.roles, self._inherited, start, target)

    # -- Casbin text --

    def casbin_model(self) -> str:
        return casbin_text.CASBIN_MODEL

    def casbin_rows(self) -> list[list[str]]:
        """``p`` rows (one per rule, subject and action) then ``g`` rows (inheritance)."""
        return casbin_text.casbin_rows(self.policy)

    def casbin_policy_csv(self) -> str:
        return "".join(", ".join(row) + "\n" for row in self.casbin_rows())

    casbin_subject_roles = staticmethod(casbin_text.casbin_subject_roles)


def _pairs_reading_groups(policy: Policy) -> frozenset[tuple[str, str]]:
    """The (kind, action) pairs of the rules whose condition reads ``subject.groups``."""
    return frozenset(
        (rule.resource, action)
        for rule in policy.rules
        if rule.when is not None
        and any(
            r.scope == "subject" and r.name == "groups" for r in conditions.refs(rule.when.tree)
        )
        for action in rule.actions
    )


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile a loaded policy (see ``load_policy``) into a ``CompiledPolicy``."""
    with collector_paused():
        return CompiledPolicy(policy)
