"""Django facts about a user, and the subject a policy makes of them.

The runtime (``authzguard.subjects``) reads the facts off a Django user; the auditor tools
(``explain``, ``test``) read them from the command line or a test file. Both turn facts
into a :class:`Subject` through :func:`subject_from_facts`, so a user described by facts
gets the roles the running site would give them (``granted_to``, then ``inherits``).

Written forms, all checked against the policy (undeclared names are :class:`UsageError`
with a "did you mean"):

- subject: ``anonymous``, or ``id=7,staff=true,groups=support+finance,roles=auditor``;
  as JSON, ``{"id": 7, "groups": ["a+b"]}`` for names the short form cannot quote;
- resource: ``user:id=9,tags=[a+b]`` (kind, then attributes);
- list values: items joined by ``+``, in brackets (``[a+b]``, ``[]``); brackets are
  optional where a list is the only possibility (``groups``, ``roles``, an attribute
  declared ``type: list``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authzguard.exceptions import AuthzGuardError
from authzguard.policy.model import Resource, Subject

if TYPE_CHECKING:
    from authzguard.policy.compiler import CompiledPolicy

#: Facts a subject may be given, in the order the docs list them.
FACT_NAMES: tuple[str, ...] = (
    "id",
    "username",
    "email",
    "authenticated",
    "active",
    "staff",
    "superuser",
    "groups",
    "roles",
)
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_KIND = re.compile(r"[a-z][a-z0-9_-]*")


class UsageError(AuthzGuardError, ValueError):
    """A subject, resource or action that is malformed or that the policy does not declare."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What Django knows about a user that a policy can grant roles on.

    ``roles`` are role names given directly (auditor tools only; a Django user has none).
    """

    authenticated: bool = False
    id: object = None
    username: str | None = None
    email: str | None = None
    active: bool = True
    staff: bool = False
    superuser: bool = False
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @classmethod
    def anonymous(cls) -> Facts:
        return cls()

    def as_dict(self) -> dict[str, object]:
        """The facts as the JSON form writes them (anonymous: ``{"authenticated": false}``)."""
        if not self.authenticated:
            data: dict[str, object] = {"authenticated": False}
            if self.roles:
                data["roles"] = list(self.roles)
            return data
        data = {"id": self.id, "username": self.username, "email": self.email}
        data = {k: v for k, v in data.items() if v is not None}
        data.update(active=self.active, staff=self.staff, superuser=self.superuser)
        data.update(groups=list(self.groups), roles=list(self.roles))
        return data


def granted_roles(compiled: CompiledPolicy, facts: Facts) -> frozenset[str]:
    """The roles ``granted_to`` gives a user with these facts (before ``inherits``).

    An inactive user keeps ``authenticated`` but nothing granted for being staff, superuser
    or in a group, as Django's ``ModelBackend`` grants an inactive user no permission.
    """
    if not facts.authenticated:
        return compiled.direct_roles(authenticated=False)
    active = facts.active
    return compiled.direct_roles(
        authenticated=True,
        superuser=active and facts.superuser,
        staff=active and facts.staff,
        groups=facts.groups if active else (),
    )


def subject_from_facts(
    compiled: CompiledPolicy, facts: Facts, *, groups_read: bool = True
) -> Subject:
    """The subject the policy sees for a user with these facts (the runtime's own mapping).

    ``subject.groups`` holds the facts' groups; it is ``None`` (absent: a condition reading
    it denies) for an inactive user, and when ``groups_read`` says they were not read.
    """
    roles = granted_roles(compiled, facts)
    if facts.roles:
        roles = roles | frozenset(facts.roles)
    if not facts.authenticated:
        return Subject(roles=roles, groups=())
    return Subject(
        id=facts.id,
        username=facts.username,
        email=facts.email,
        roles=roles,
        authenticated=True,
        groups=tuple(sorted(facts.groups)) if groups_read and facts.active else None,
    )


# -- reading facts --------------------------------------------------------------------------


def did_you_mean(name: str, known: Collection[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest known name, or ``""``."""
    matches = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def parse_value(text: str) -> object:
    """``9`` is an int, ``true``/``false`` bools, ``"9"`` or ``'9'`` the string 9,
    ``[a+b]`` a list of such values, ``[]`` the empty list, anything else text."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        inner = text[1:-1]
        return [parse_value(item) for item in inner.split("+")] if inner else []
    if re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def parse_fields(text: str, what: str) -> dict[str, str]:
    """``a=1,b=x`` as ``{"a": "1", "b": "x"}``; malformed or repeated names are errors."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _FIELD.fullmatch(part)
        if match is None:
            raise UsageError(f"{what}: expected name=value, got {part!r}")
        if match.group(1) in out:
            raise UsageError(f"{what}: {match.group(1)!r} given twice")
        out[match.group(1)] = match.group(2)
    return out


def _list_value(text: str) -> list[object]:
    value = parse_value(text)
    if isinstance(value, list):
        return value
    return [parse_value(item) for item in text.split("+")] if text else []


def parse_facts(text: str, what: str = "--subject") -> Facts:
    """The short form: ``anonymous`` or ``id=7,staff=true,groups=a+b``."""
    if text.strip() == "anonymous":
        return Facts.anonymous()
    data: dict[str, object] = {}
    for name, raw in parse_fields(text, what).items():
        data[name] = _list_value(raw) if name in ("groups", "roles") else parse_value(raw)
    return facts_from_mapping(data, what)


def parse_facts_json(text: str, what: str = "--subject-json") -> Facts:
    """The JSON form: an object with the same names as the short form."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what}: expected a JSON object of facts")
    return facts_from_mapping(data, what)


def facts_from_mapping(data: Mapping[str, object], what: str) -> Facts:
    """Facts from typed values (JSON, a test file). ``authenticated`` defaults to true:
    an anonymous user is ``{"authenticated": false}``."""
    unknown = [name for name in data if name not in FACT_NAMES]
    if unknown:
        name = unknown[0]
        raise UsageError(f"{what}: unknown fact {name!r}{did_you_mean(name, FACT_NAMES)}")
    flags = {}
    for name in ("authenticated", "active", "staff", "superuser"):
        value = data.get(name, name in ("authenticated", "active"))
        if not isinstance(value, bool):
            raise UsageError(f"{what}: {name} must be true or false, not {value!r}")
        flags[name] = value
    names: dict[str, tuple[str, ...]] = {}
    for name in ("groups", "roles"):
        value = data.get(name, [])
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) and item for item in value
        ):
            raise UsageError(f"{what}: {name} must be a list of names, not {value!r}")
        names[name] = tuple(dict.fromkeys(value))
    ident = data.get("id")
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, int | str)):
        raise UsageError(f"{what}: id must be an integer or a string, not {ident!r}")
    texts: dict[str, str | None] = {}
    for name in ("username", "email"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            value = str(value)
        texts[name] = value
    if not flags["authenticated"]:
        given = [
            n for n in ("id", "username", "email", "staff", "superuser", "groups") if data.get(n)
        ]
        if given or "active" in data:
            extra = ", ".join(given or ["active"])
            raise UsageError(f"{what}: an anonymous user has no {extra}")
    return Facts(
        authenticated=flags["authenticated"],
        id=ident,
        username=texts["username"],
        email=texts["email"],
        active=flags["active"],
        staff=flags["staff"],
        superuser=flags["superuser"],
        groups=names["groups"],
        roles=names["roles"],
    )


# -- checking against a policy --------------------------------------------------------------


def check_facts(compiled: CompiledPolicy, facts: Facts, what: str = "--subject") -> None:
    """Role names given directly must be declared roles. (Any group name is a fact: a
    group the policy never names grants nothing, as at run time.)"""
    declared = compiled.policy.roles
    for role in facts.roles:
        if role not in declared:
            hint = did_you_mean(role, declared)
            raise UsageError(f"{what}: the policy declares no role {role!r}{hint}")


def check_kind(compiled: CompiledPolicy, kind: str, what: str = "--resource") -> None:
    kinds = compiled.policy.resources
    if kind not in kinds:
        hint = did_you_mean(kind, kinds)
        raise UsageError(f"{what}: the policy declares no resource kind {kind!r}{hint}")


def check_action(compiled: CompiledPolicy, kind: str, action: str, what: str = "--action") -> None:
    check_kind(compiled, kind)
    actions = compiled.policy.resources[kind].actions
    if action not in actions:
        hint = did_you_mean(action, actions)
        raise UsageError(f"{what}: resource kind {kind!r} declares no action {action!r}{hint}")


def resource_from_mapping(
    compiled: CompiledPolicy, kind: str, attributes: Mapping[str, object], what: str = "--resource"
) -> Resource:
    """A resource of a declared kind with declared attributes of their declared types."""
    check_kind(compiled, kind, what)
    declared = compiled.policy.resources[kind].attributes
    for name in attributes:
        if name not in declared:
            hint = did_you_mean(name, declared)
            raise UsageError(f"{what}: resource kind {kind!r} declares no attribute {name!r}{hint}")
    resource = Resource(kind, dict(attributes))
    problem = compiled.type_problem(Subject(), resource)
    if problem is not None:
        raise UsageError(f"{what}: {problem}")
    return resource


def parse_resource(compiled: CompiledPolicy, text: str, what: str = "--resource") -> Resource:
    """``kind:attr=value,...``; values of attributes declared ``type: list`` are lists."""
    kind, _, rest = text.partition(":")
    if not _KIND.fullmatch(kind):
        raise UsageError(f"{what}: {kind!r} is not a resource kind (write kind:attr=value,...)")
    check_kind(compiled, kind, what)
    declared = compiled.policy.resources[kind].attributes
    attributes: dict[str, object] = {}
    for name, raw in parse_fields(rest, what).items():
        attribute = declared.get(name)
        is_list = attribute is not None and attribute.type == "list"
        attributes[name] = _list_value(raw) if is_list else parse_value(raw)
    return resource_from_mapping(compiled, kind, attributes, what)


def parse_resource_json(
    compiled: CompiledPolicy, text: str, what: str = "--resource-json"
) -> Resource:
    """``{"kind": "user", "id": 9}``: the kind, then the attributes."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise UsageError(f'{what}: expected a JSON object with a "kind"')
    kind = data.pop("kind")
    return resource_from_mapping(compiled, kind, data, what)
