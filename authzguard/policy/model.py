"""The policy's data model: immutable values, built by the loader, read by everything else.

Nothing here knows about YAML, Django or Casbin. Every definition keeps the
``Position`` it came from, so auditor tooling (diffs, coverage, reports) can point
back at the source line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from authzguard.policy.conditions import Node

Effect = Literal["allow", "deny"]
AttributeType = Literal["str", "int", "bool", "key", "list", "any"]
SourceKind = Literal["superuser", "staff", "authenticated", "anonymous", "group"]

#: Subjects a rule may name without declaring them as roles.
BUILTIN_SUBJECTS: frozenset[str] = frozenset({"*", "authenticated", "anonymous"})
#: Subject attributes a condition may read (``subject.<name>``) and their types.
SUBJECT_ATTRIBUTES: Mapping[str, AttributeType] = MappingProxyType(
    {"id": "key", "username": "str", "email": "str", "groups": "list"}
)
#: Actions that change nothing unless a policy says otherwise (``safe:`` overrides).
DEFAULT_SAFE_ACTIONS: frozenset[str] = frozenset({"read", "view", "list", "show", "get"})
#: Action names the IDOR lint treats as destructive (the policy's ``lint:`` section overrides).
DEFAULT_DESTRUCTIVE_ACTIONS: tuple[str, ...] = (
    "delete",
    "destroy",
    "remove",
    "end",
    "revoke",
    "purge",
    "update",
    "edit",
    "change",
    "write",
    "disable",
)


def _frozen(mapping: Mapping[str, object] | None = None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Position:
    """Where a definition was written: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NOWHERE = Position("<builtin>", 0, 0)


@dataclass(frozen=True, slots=True)
class RoleSource:
    """Where Django membership of a role comes from."""

    kind: SourceKind
    group: str | None = None

    def __str__(self) -> str:
        return f"group:{self.group}" if self.kind == "group" else self.kind


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    inherits: tuple[str, ...] = ()
    granted_to: tuple[RoleSource, ...] = ()
    description: str = ""
    position: Position = NOWHERE


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    #: A safe action changes nothing: it answers GET/HEAD. Others are state-changing.
    safe: bool
    #: Explicit HTTP methods, or ``None`` for the defaults (safe: GET/HEAD; else the
    #: ``AUTHZGUARD_STATE_CHANGING_METHODS`` setting).
    methods: tuple[str, ...] | None = None
    destructive: bool = False
    description: str = ""
    position: Position = NOWHERE
    #: Lists of this action are filtered by the policy (``filterable: true``): every
    #: condition on it must compile to SQL, checked at start-up.
    filterable: bool = False


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    type: AttributeType = "any"
    #: Attribute path read from the target object (``pk``, ``owner_id``, ``owner.pk``).
    field: str | None = None
    position: Position = NOWHERE


@dataclass(frozen=True, slots=True)
class ResourceKind:
    name: str
    actions: Mapping[str, Action] = field(default_factory=_frozen)  # type: ignore[arg-type]
    attributes: Mapping[str, Attribute] = field(default_factory=_frozen)  # type: ignore[arg-type]
    #: ``app_label.ModelName`` that targets of this kind are looked up in, if any.
    model: str | None = None
    description: str = ""
    position: Position = NOWHERE


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed ``when:`` expression: the tree plus the text it came from."""

    source: str
    tree: Node
    position: Position = NOWHERE


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    effect: Effect
    subjects: tuple[str, ...]
    actions: tuple[str, ...]
    resource: str
    when: Condition | None = None
    description: str = ""
    position: Position = NOWHERE
    #: Where each part was written, as ``(part, line, column)`` in the rule's file; parts
    #: are ``"subject:<name>"``, ``"action:<name>"`` and ``"resource"``. Plain tuples of
    #: strings and ints, which the garbage collector does not track.
    positions: tuple[tuple[str, int, int], ...] = ()

    def where(self, part: str) -> Position:
        """The position of one part of the rule (the rule itself if unknown)."""
        for name, line, column in self.positions:
            if name == part:
                return Position(self.position.file, line, column)
        return self.position


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """How a route finds its target object. Validated against models by Django checks."""

    param: str | None = None
    #: ``path``, ``query``, ``form``, ``json`` or ``body`` (form or JSON by content type).
    source: str | None = None
    model: str | None = None
    field: str = "pk"
    #: Dotted path of a custom resolver callable, instead of param/model/field.
    resolver: str | None = None
    #: View keyword argument that receives the authorized object (opt-in).
    pass_as: str | None = None
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class RouteBinding:
    """A ``routes:`` entry: protects the view named ``view_name`` without touching its code."""

    view_name: str
    action: str
    resource: str
    target: TargetSpec | None = None
    position: Position = NOWHERE


@dataclass(frozen=True, slots=True)
class Policy:
    """A whole policy, merged from one or more files. Immutable."""

    roles: Mapping[str, Role]
    resources: Mapping[str, ResourceKind]
    rules: tuple[Rule, ...]
    routes: Mapping[str, RouteBinding]
    destructive_actions: tuple[str, ...] = DEFAULT_DESTRUCTIVE_ACTIONS
    files: tuple[str, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass(frozen=True, slots=True)
class Subject:
    """Who is asking. ``roles`` are the roles granted directly (inheritance is the policy's).

    ``groups`` are the names of the user's Django groups, or ``None`` when they were not
    read (a condition reading ``subject.groups`` then denies).
    """

    id: object = None
    username: str | None = None
    email: str | None = None
    roles: frozenset[str] = frozenset()
    authenticated: bool = False
    groups: tuple[str, ...] | None = None

    @classmethod
    def anonymous(cls) -> Subject:
        return cls(groups=())


@dataclass(frozen=True, slots=True)
class Resource:
    """What is acted on: a kind and the attributes conditions may read."""

    kind: str
    attributes: Mapping[str, object] = field(default_factory=_frozen)

    def __post_init__(self) -> None:
        if not isinstance(self.attributes, MappingProxyType):
            object.__setattr__(self, "attributes", _frozen(self.attributes))


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one question. ``rule`` is the id of the deciding rule, if any."""

    allowed: bool
    rule: str | None
    reason: str
    #: The role chain that made the deciding rule apply, e.g. ``("superadmin", "admin")``.
    chain: tuple[str, ...] = ()
    #: Set when the decision is a deny caused by an error during evaluation.
    error: str | None = None

    def __bool__(self) -> bool:
        return self.allowed
