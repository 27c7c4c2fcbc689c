"""An independent, straightforward reading of docs/policy-language.md, for tests.

It works from the raw YAML data (``yaml.safe_load`` of a policy's files) and shares no
code with ``authzguard.policy``: its own role closure, its own condition evaluator
(Python's ``ast`` on the condition text, with a whitelist of node types), the
declared-type check of every value before any rule, deny overrides allow, nothing
matched denies, and an error in any applicable rule denies.

Operators are Python's, as the spec says for ``any`` attributes (``true == 1``,
``"ali" in "alice,bob"``, ``not ""``). ``strict=True`` reads them by the words of the
condition table instead (equality without conversion, ``in`` only on a list, boolean
logic only on booleans): with values of their declared types the two readings must
never differ, which is what the declared-type check is for.
"""

from __future__ import annotations

import ast
import functools
import io
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BUILTINS = ("*", "authenticated", "anonymous")
SUBJECT_ATTRIBUTES = ("id", "username", "email", "groups")


class Unevaluable(Exception):
    """The condition cannot be evaluated: the spec says the request is denied."""


@dataclass(frozen=True)
class RefSubject:
    """Who asks: directly granted roles, and the attributes conditions may read."""

    roles: frozenset[str] = frozenset()
    authenticated: bool = False
    id: object = None
    username: str | None = None
    email: str | None = None
    #: The names of the subject's groups, ``None`` when unknown (then absent).
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RefDecision:
    allowed: bool
    rule: str | None
    #: Ids of applicable rules whose condition could not be evaluated.
    errors: tuple[str, ...] = ()
    #: Ids of applicable rules whose condition held (or that have none), in file order.
    held: tuple[str, ...] = field(default_factory=tuple)


def read_policy_data(path: Path) -> dict[str, Any]:
    """A policy's raw data: one file, or every ``*.yaml``/``*.yml`` of a directory merged
    in name order (roles and resources joined, rules concatenated)."""
    if not path.is_dir():
        return dict(yaml.safe_load(path.read_text(encoding="utf-8")))
    merged: dict[str, Any] = {"roles": {}, "resources": {}, "rules": []}
    for file in sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        merged["roles"].update(data.get("roles") or {})
        merged["resources"].update(data.get("resources") or {})
        merged["rules"].extend(data.get("rules") or [])
    return merged


def _names(value: object) -> list[str]:
    """A list of names, or a single name (the spec allows both)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    assert isinstance(value, list)
    return [str(v) for v in value]


def _actions(resource: Mapping[str, object]) -> set[str]:
    actions = resource.get("actions")
    if isinstance(actions, Mapping):
        return set(actions)
    return set(_names(actions))


# -- roles -----------------------------------------------------------------------------


def inherited(data: Mapping[str, object], role: str) -> set[str]:
    """The role and every role it inherits, transitively."""
    roles = data.get("roles") or {}
    assert isinstance(roles, Mapping)
    seen: set[str] = set()
    todo = [role]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = roles.get(name) or {}
        todo.extend(_names(spec.get("inherits")))
    return seen


def effective_roles(data: Mapping[str, object], subject: RefSubject) -> set[str]:
    found = {"*", "authenticated" if subject.authenticated else "anonymous"}
    for role in subject.roles:
        found |= inherited(data, role)
    return found


def granted_roles(
    data: Mapping[str, object],
    *,
    authenticated: bool,
    superuser: bool = False,
    staff: bool = False,
    groups: Iterable[str] = (),
) -> set[str]:
    """The roles ``granted_to`` gives a Django user with these facts (inheritance excluded)."""
    groups = set(groups)
    out: set[str] = set()
    roles = data.get("roles") or {}
    assert isinstance(roles, Mapping)
    for name, spec in roles.items():
        for source in (spec or {}).get("granted_to") or []:
            if isinstance(source, Mapping):
                holds = authenticated and source["group"] in groups
            else:
                holds = {
                    "authenticated": authenticated,
                    "anonymous": not authenticated,
                    "superuser": authenticated and superuser,
                    "staff": authenticated and staff,
                }[source]
            if holds:
                out.add(name)
    return out


# -- conditions ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def to_python(text: str) -> ast.Expression:
    """Parse condition text with Python's parser, ``true``/``false`` read as booleans.

    Only the node types of the condition grammar are accepted.
    """
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(text.strip()).readline):
        if tok.type == tokenize.NAME and tok.string in ("true", "false"):
            tok = tok._replace(string=tok.string.capitalize())
        elif tok.type == tokenize.NAME and tok.string in ("True", "False", "None"):
            raise ValueError(f"{tok.string} is not a condition word")
        tokens.append(tok)
    tree = ast.parse(tokenize.untokenize(tokens).strip(), mode="eval")
    _check(tree.body)
    return tree


def _check(node: ast.AST) -> None:
    if isinstance(node, ast.BoolOp):
        assert isinstance(node.op, (ast.And, ast.Or))
        for value in node.values:
            _check(value)
    elif isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            if not (isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
                raise ValueError("minus only before an integer")
        elif isinstance(node.op, ast.Not):
            _check(node.operand)
        else:
            raise ValueError(f"operator {type(node.op).__name__} is not in the grammar")
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1 or not isinstance(
            node.ops[0], (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
        ):
            raise ValueError("one comparison of ==, !=, in, not in")
        _check(node.left)
        _check(node.comparators[0])
    elif isinstance(node, ast.Attribute):
        if not (isinstance(node.value, ast.Name) and node.value.id in ("subject", "resource")):
            raise ValueError("only subject.<attr> and resource.<attr>")
    elif isinstance(node, ast.List):
        for item in node.elts:
            if isinstance(item, ast.UnaryOp):
                _check(item)
            elif not (isinstance(item, ast.Constant) and type(item.value) in (str, int, bool)):
                raise ValueError("lists hold literals only")
    elif isinstance(node, ast.Constant):
        if type(node.value) not in (str, int, bool):
            raise ValueError(f"{node.value!r} is not a literal of the grammar")
    else:
        raise ValueError(f"{type(node).__name__} is not in the grammar")


def _same(a: object, b: object, strict: bool) -> bool:
    if not strict:
        return a == b
    if isinstance(a, bool) != isinstance(b, bool) or isinstance(a, list) != isinstance(b, list):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, strict) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _member(item: object, container: object, strict: bool) -> bool:
    if strict:
        if not isinstance(container, list):
            raise Unevaluable(f"'in' needs a list, got {type(container).__name__}")
        return any(_same(item, x, strict) for x in container)
    try:
        return item in container  # type: ignore[operator]
    except TypeError as exc:
        raise Unevaluable(str(exc)) from None


def _boolean(value: object, strict: bool) -> object:
    if strict and not isinstance(value, bool):
        raise Unevaluable(f"boolean logic on a {type(value).__name__}")
    return value


def evaluate(
    node: ast.AST, subject: Mapping[str, object], resource: Mapping[str, object], strict: bool
) -> object:
    """The value of a condition node; ``Unevaluable`` when the spec says it cannot be had."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, subject, resource, strict)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate(node.operand, subject, resource, strict)  # type: ignore[operator]
    if isinstance(node, ast.List):
        return [evaluate(item, subject, resource, strict) for item in node.elts]
    if isinstance(node, ast.Attribute):
        assert isinstance(node.value, ast.Name)
        table = subject if node.value.id == "subject" else resource
        if table.get(node.attr) is None:
            raise Unevaluable(f"{node.value.id}.{node.attr} is absent")
        return table[node.attr]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _boolean(evaluate(node.operand, subject, resource, strict), strict)
    if isinstance(node, ast.BoolOp):
        # Usual boolean logic: evaluation stops once the answer is known.
        stop_on = isinstance(node.op, ast.Or)
        value: object = not stop_on
        for operand in node.values:
            value = _boolean(evaluate(operand, subject, resource, strict), strict)
            if bool(value) == stop_on:
                return value
        return value
    if isinstance(node, ast.Compare):
        left = evaluate(node.left, subject, resource, strict)
        right = evaluate(node.comparators[0], subject, resource, strict)
        op = node.ops[0]
        if isinstance(op, ast.Eq):
            return _same(left, right, strict)
        if isinstance(op, ast.NotEq):
            return not _same(left, right, strict)
        if isinstance(op, ast.In):
            return _member(left, right, strict)
        return not _member(left, right, strict)
    raise AssertionError(f"unexpected node {node!r}")


def holds(
    text: str,
    subject: Mapping[str, object],
    resource: Mapping[str, object],
    *,
    strict: bool = False,
) -> bool:
    """Whether a condition holds; ``Unevaluable`` when it cannot be evaluated."""
    value = evaluate(to_python(text), subject, resource, strict)
    if not isinstance(value, bool):
        raise Unevaluable(f"the condition gave a {type(value).__name__}, not true/false")
    return value


# -- decisions -------------------------------------------------------------------------


def decide(
    data: Mapping[str, object],
    subject: RefSubject,
    action: str,
    kind: str,
    attributes: Mapping[str, object],
    *,
    strict: bool = False,
    check_types: bool = True,
) -> RefDecision:
    """The spec's answer for one request, from the policy's raw YAML data.

    ``check_types=False`` leaves out the declared-type check that precedes every rule:
    what a reader of the compiled Casbin files, which cannot see types, answers.
    """
    if check_types and not well_typed(data, subject, kind, attributes):
        return RefDecision(False, None, ("a value of the wrong type",))
    roles = effective_roles(data, subject)
    s_env = {name: getattr(subject, name) for name in SUBJECT_ATTRIBUTES}
    if subject.groups is not None:
        s_env["groups"] = list(subject.groups)  # a list, as a list attribute is
    held: list[tuple[str, str]] = []
    errors: list[str] = []
    for rule in data.get("rules") or []:  # type: ignore[attr-defined]
        if rule["resource"] != kind or action not in _names(rule["actions"]):
            continue
        if roles.isdisjoint(_names(rule["subjects"])):
            continue
        when = rule.get("when")
        try:
            ok = True if when is None else holds(str(when), s_env, attributes, strict=strict)
        except Unevaluable:
            errors.append(rule["id"])
            continue
        if ok:
            held.append((rule["effect"], rule["id"]))
    denies = [rid for effect, rid in held if effect == "deny"]
    allows = [rid for effect, rid in held if effect == "allow"]
    held_ids = tuple(rid for _, rid in held)
    if denies:
        return RefDecision(False, denies[0], tuple(errors), held_ids)
    if errors:
        return RefDecision(False, None, tuple(errors), held_ids)
    if allows:
        return RefDecision(True, allows[0], (), held_ids)
    return RefDecision(False, None, (), held_ids)


def _fits(kind: str, value: object) -> bool:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return {
        "str": isinstance(value, str),
        "int": is_int,
        "bool": isinstance(value, bool),
        "key": is_int or isinstance(value, str),
        "list": isinstance(value, (list, tuple)),
    }.get(kind, True)


def declared_types(data: Mapping[str, object], kind: str) -> dict[str, str]:
    """Each declared attribute of a resource kind and its type (``any`` when unsaid)."""
    resources = data.get("resources") or {}
    assert isinstance(resources, Mapping)
    attributes = (resources.get(kind) or {}).get("attributes") or {}
    if isinstance(attributes, list):
        return dict.fromkeys(attributes, "any")
    return {
        name: spec if isinstance(spec, str) else (spec or {}).get("type", "any")
        for name, spec in attributes.items()
    }


def well_typed(
    data: Mapping[str, object], subject: RefSubject, kind: str, attributes: Mapping[str, object]
) -> bool:
    """Whether every present value has its declared type (subject.id is a key, etc.)."""
    subject_types = {"id": "key", "username": "str", "email": "str", "groups": "list"}
    for name, type_ in subject_types.items():
        value = getattr(subject, name)
        if value is not None and not _fits(type_, value):
            return False
    for name, type_ in declared_types(data, kind).items():
        value = attributes.get(name)
        if value is not None and not _fits(type_, value):
            return False
    return True


def declared_actions(data: Mapping[str, object], kind: str) -> set[str]:
    resources = data.get("resources") or {}
    assert isinstance(resources, Mapping)
    return _actions(resources.get(kind) or {})
