"""Evaluating ``when:`` conditions, and rendering them for Casbin.

A condition tree (``authzguard.policy.conditions``) becomes a function of the subject's
and the resource's attributes; the same tree becomes the text of a Casbin matcher. Both
follow Python's semantics for the few operators the language has.
"""

from __future__ import annotations

import functools
import re
from types import CodeType

from authzguard.exceptions import EvaluationError
from authzguard.policy.conditions import (
    Compare,
    Env,
    Evaluator,
    ListLiteral,
    Literal,
    Node,
    Not,
    Ref,
)


def compile_evaluator(node: Node) -> Evaluator:
    """Turn a tree into a function ``(subject_attrs, resource_attrs) -> value``.

    Reading an absent attribute raises ``EvaluationError``; operators are Python's, as in
    Casbin's evaluator. One generated expression does the work (``_generated``); when it
    raises, the per-node closures (``_closures``) evaluate again for the precise error.
    """
    reference = _closures(node)
    return _generated(node, reference) or reference


# Conditions of the same shape (``resource.owner == subject.id`` in every kind, or the same
# test with other literals) generate the same source: compile it once.
@functools.lru_cache(maxsize=4096)
def _code(source: str) -> CodeType | None:
    try:
        return compile(source, "<authzguard condition>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None


def _generated(node: Node, reference: Evaluator) -> Evaluator | None:
    """The tree as one Python expression over ``s`` and ``r``, or None if it has no such form.

    When the expression raises (an absent attribute, ``in`` on a non-container),
    ``reference`` evaluates again and raises the ``EvaluationError``; when nothing
    raises, both give the same value (pure reads, Python's operators).
    """
    constants: dict[str, object] = {}
    expr = _python(node, constants)
    if expr is None:
        return None
    source = (
        "def evaluate(s, r):\n"
        "    try:\n"
        f"        return {expr}\n"
        "    except _Failure:\n"
        "        return _reference(s, r)\n"
    )
    code = _code(source)
    if code is None:
        return None
    namespace: dict[str, object] = {
        "__builtins__": {},
        "_Failure": Exception,
        "_reference": reference,
        **constants,
    }
    # Safe: the source comes from a parsed, validated tree (names are checked identifiers
    # written with repr, literals are constants bound above, operators a fixed set), and
    # the namespace has no builtins.
    exec(code, namespace)  # noqa: S102
    evaluate = namespace["evaluate"]
    return evaluate if callable(evaluate) else None


def _python(node: Node, constants: dict[str, object]) -> str | None:
    if isinstance(node, Ref):
        return f"{'s' if node.scope == 'subject' else 'r'}[{node.name!r}]"
    if isinstance(node, Literal | ListLiteral):
        name = f"_k{len(constants)}"
        # The same objects the closures use: a list stays a list (``[1] == [1]``, not a tuple).
        constants[name] = node.value if isinstance(node, Literal) else [i.value for i in node.items]
        return name
    if isinstance(node, Compare):
        left, right = _python(node.left, constants), _python(node.right, constants)
        if left is None or right is None:
            return None
        if node.op == "not in":
            return f"(not ({left} in {right}))"
        if node.op in ("==", "!=", "in"):
            return f"({left} {node.op} {right})"
        return None
    if isinstance(node, Not):
        operand = _python(node.operand, constants)
        return None if operand is None else f"(not {operand})"
    if not node.operands or node.op not in ("and", "or"):
        return None
    parts = [_python(op, constants) for op in node.operands]
    if any(part is None for part in parts):
        return None
    return "(" + f" {node.op} ".join(p for p in parts if p is not None) + ")"


def _closures(node: Node) -> Evaluator:
    """The reference evaluator: one closure per node."""
    if isinstance(node, Ref):
        name = node.name
        label = f"{node.scope}.{name}"
        if node.scope == "subject":

            def read_subject(s: Env, r: Env) -> object:
                try:
                    return s[name]
                except KeyError:
                    raise EvaluationError(f"{label} is absent") from None

            return read_subject

        def read_resource(s: Env, r: Env) -> object:
            try:
                return r[name]
            except KeyError:
                raise EvaluationError(f"{label} is absent") from None

        return read_resource
    if isinstance(node, Literal):
        value: object = node.value
        return lambda s, r: value
    if isinstance(node, ListLiteral):
        values = [i.value for i in node.items]
        return lambda s, r: values
    if isinstance(node, Compare):
        left, right = _closures(node.left), _closures(node.right)
        if node.op == "==":
            return lambda s, r: left(s, r) == right(s, r)
        if node.op == "!=":
            return lambda s, r: left(s, r) != right(s, r)
        if node.op == "in":
            return lambda s, r: _contains(right(s, r), left(s, r))
        return lambda s, r: not _contains(right(s, r), left(s, r))
    if isinstance(node, Not):
        operand = _closures(node.operand)
        return lambda s, r: not operand(s, r)
    parts = [_closures(op) for op in node.operands]
    if node.op == "and":

        def all_of(s: Env, r: Env) -> object:
            value: object = True
            for part in parts:
                value = part(s, r)
                if not value:
                    return value
            return value

        return all_of

    def any_of(s: Env, r: Env) -> object:
        value: object = False
        for part in parts:
            value = part(s, r)
            if value:
                return value
        return value

    return any_of


def _contains(container: object, item: object) -> bool:
    try:
        return item in container  # type: ignore[operator]
    except TypeError as exc:
        raise EvaluationError(f"cannot test membership: {exc}") from None


def truth(value: object) -> bool:
    """How a condition's value decides a match, as Casbin reads a matcher result.

    A bool is itself; a float matches unless zero; anything else is an error.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0
    raise EvaluationError(f"condition produced {type(value).__name__}, not true/false")


# -- Casbin rendering -------------------------------------------------------------------------

_SAFE = re.compile(r"[A-Za-z0-9_]")


def _casbin_string(value: str) -> str:
    # Casbin's CSV reader splits on commas outside brackets and rewrites '!', '&&', '||'
    # and 'r.'/'p.' prefixes anywhere in the text, strings included. Escaping every other
    # character keeps a literal's bytes out of reach of those rewrites.
    out = []
    for char in value:
        if _SAFE.fullmatch(char):
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def to_casbin(node: Node) -> str:
    """The condition as a Casbin ``eval()`` expression over ``r.sub`` and ``r.obj``."""
    if isinstance(node, Ref):
        return f"r.{'sub' if node.scope == 'subject' else 'obj'}.{node.name}"
    if isinstance(node, Literal):
        if isinstance(node.value, bool):
            return "True" if node.value else "False"
        if isinstance(node.value, int):
            return str(node.value)
        return _casbin_string(node.value)
    if isinstance(node, ListLiteral):
        return "[" + ", ".join(to_casbin(i) for i in node.items) + "]"
    if isinstance(node, Compare):
        return f"({to_casbin(node.left)} {node.op} {to_casbin(node.right)})"
    if isinstance(node, Not):
        return f"(not {to_casbin(node.operand)})"
    return "(" + f" {node.op} ".join(to_casbin(op) for op in node.operands) + ")"
