"""The ``when:`` condition language: parsed into an inspectable tree, never evaluated as text.

Grammar (lowest precedence first)::

    expr    := and_ ("or" and_)*
    and_    := not_ ("and" not_)*
    not_    := "not" not_ | compare
    compare := operand (("==" | "!=" | "in" | "not" "in") operand)?
    operand := ref | literal | list | "(" expr ")"
    ref     := ("subject" | "resource") "." NAME
    literal := STRING | INT | "true" | "false"
    list    := "[" literal ("," literal)* ","? "]"

There are no function calls, no arithmetic and no attribute beyond one level, so a
condition can only read declared attributes and compare them. Evaluation follows
Python's semantics for these operators exactly (it is what Casbin's evaluator does
with the compiled text), with one rule of our own: an absent attribute is an error,
and an error denies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from authzguard.exceptions import ConditionError

MAX_LENGTH = 2000
MAX_DEPTH = 40

Scope = str  # "subject" | "resource"
Value = str | int | bool
Env = Mapping[str, object]
Evaluator = Callable[[Env, Env], object]


@dataclass(frozen=True, slots=True)
class Ref:
    scope: Scope
    name: str
    column: int = 0


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value
    column: int = 0


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Literal, ...]
    column: int = 0


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # "==", "!=", "in", "not in"
    left: Node
    right: Node
    column: int = 0


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    column: int = 0


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    column: int = 0


Node = Ref | Literal | ListLiteral | Compare | Not | BoolOp

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<int>-?[0-9]+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|[().,\[\]])
    """,
    re.VERBOSE,
)
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    column: int


def _unquote(text: str, column: int) -> str:
    out: list[str] = []
    body = iter(enumerate(text[1:-1], start=1))
    for offset, char in body:
        if char != "\\":
            out.append(char)
            continue
        _, nxt = next(body)
        if nxt not in _ESCAPES:
            raise ConditionError(f"unknown escape \\{nxt} in string", column + offset)
        out.append(_ESCAPES[nxt])
    return "".join(out)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ConditionError(f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _is(self, kind: str, text: str | None = None) -> bool:
        tok = self.current
        return tok.kind == kind and (text is None or tok.text == text)

    def _take(self) -> _Token:
        tok = self.current
        self.index += 1
        return tok

    def _expect(self, kind: str, text: str, what: str) -> _Token:
        if not self._is(kind, text):
            raise ConditionError(f"expected {what}, found {self._found()}", self.current.column)
        return self._take()

    def _found(self) -> str:
        tok = self.current
        return "end of condition" if tok.kind == "end" else repr(tok.text)

    def parse(self) -> Node:
        node = self._or()
        if not self._is("end"):
            raise ConditionError(f"unexpected {self._found()}", self.current.column)
        return node

    def _nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError("condition is nested too deeply", self.current.column)

    def _or(self) -> Node:
        column = self.current.column
        operands = [self._and()]
        while self._is("name", "or"):
            self._take()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands), column)

    def _and(self) -> Node:
        column = self.current.column
        operands = [self._not()]
        while self._is("name", "and"):
            self._take()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands), column)

    def _not(self) -> Node:
        if self._is("name", "not"):
            column = self._take().column
            self._nested()
            node = Not(self._not(), column)
            self.depth -= 1
            return node
        return self._compare()

    def _compare(self) -> Node:
        left = self._operand()
        tok = self.current
        if tok.kind == "op" and tok.text in ("==", "!="):
            self._take()
            return Compare(tok.text, left, self._operand(), tok.column)
        if self._is("name", "in"):
            self._take()
            return Compare("in", left, self._operand(), tok.column)
        if self._is("name", "not"):
            self._take()
            self._expect("name", "in", "'in' after 'not'")
            return Compare("not in", left, self._operand(), tok.column)
        return left

    def _operand(self) -> Node:
        tok = self.current
        if tok.kind == "op" and tok.text == "(":
            self._take()
            self._nested()
            node = self._or()
            self.depth -= 1
            self._expect("op", ")", "')'")
            return node
        if tok.kind == "op" and tok.text == "[":
            return self._list()
        if tok.kind == "name" and tok.text in ("subject", "resource"):
            self._take()
            self._expect("op", ".", f"'.' after {tok.text!r}")
            name_tok = self.current
            if name_tok.kind != "name" or name_tok.text in KEYWORDS:
                raise ConditionError(
                    f"expected an attribute name after '{tok.text}.'", name_tok.column
                )
            if not NAME.fullmatch(name_tok.text):
                raise ConditionError(
                    f"attribute name {name_tok.text!r} must be lowercase letters, digits and _, "
                    "starting with a letter",
                    name_tok.column,
                )
            self._take()
            if self._is("op", "."):
                raise ConditionError(
                    "only one level of attribute is allowed (subject.x, resource.x)",
                    self.current.column,
                )
            return Ref(tok.text, name_tok.text, tok.column)
        return self._literal()

    def _literal(self) -> Literal:
        tok = self.current
        if tok.kind == "string":
            self._take()
            return Literal(_unquote(tok.text, tok.column), tok.column)
        if tok.kind == "int":
            digits = tok.text.lstrip("-")
            if len(digits) > 1 and digits.startswith("0"):
                raise ConditionError(
                    f"integer {tok.text} has a leading zero; write it without one", tok.column
                )
            if len(digits) > 18:
                raise ConditionError(f"integer {tok.text} is too large", tok.column)
            self._take()
            return Literal(int(tok.text), tok.column)
        if tok.kind == "name" and tok.text in ("true", "false"):
            self._take()
            return Literal(tok.text == "true", tok.column)
        if tok.kind == "name" and tok.text in ("True", "False", "null", "None", "none"):
            raise ConditionError(
                f"{tok.text!r} is not a value here: use true or false (there is no null; "
                "an absent attribute denies)",
                tok.column,
            )
        if tok.kind == "name":
            if self.tokens[self.index + 1].text == "(":
                raise ConditionError(
                    f"function calls are not allowed ({tok.text}(...))", tok.column
                )
            raise ConditionError(
                f"unknown name {tok.text!r}: conditions read subject.<attr> and resource.<attr>",
                tok.column,
            )
        raise ConditionError(f"expected a value, found {self._found()}", tok.column)

    def _list(self) -> ListLiteral:
        column = self._take().column
        items: list[Literal] = []
        while not self._is("op", "]"):
            items.append(self._literal())
            if self._is("op", ","):
                self._take()
            elif not self._is("op", "]"):
                raise ConditionError(
                    f"expected ',' or ']', found {self._found()}", self.current.column
                )
        self._take()
        if not items:
            raise ConditionError("an empty list never matches; remove the condition", column)
        return ListLiteral(tuple(items), column)


def parse(text: str) -> Node:
    """Parse a condition. Raises ``ConditionError`` with the 0-based column of the problem."""
    return _parse(text)


# Policies repeat a few conditions many times (an ownership check per resource kind).
# Trees are immutable and their columns are relative to the text, so one tree serves
# every rule that wrote the same text. Errors are raised anew each time.
@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Node:
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"condition is longer than {MAX_LENGTH} characters", 0)
    if not text.strip():
        raise ConditionError("condition is empty", 0)
    return _Parser(text).parse()


# -- inspection -----------------------------------------------------------------------------


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, depth first."""
    yield node
    if isinstance(node, Compare):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Not):
        yield from walk(node.operand)
    elif isinstance(node, BoolOp):
        for operand in node.operands:
            yield from walk(operand)
    elif isinstance(node, ListLiteral):
        yield from node.items


def refs(node: Node) -> list[Ref]:
    return [n for n in walk(node) if isinstance(n, Ref)]


def is_ownership(node: Node) -> bool:
    """True when the condition ties the resource to the subject (``resource.x == subject.y``).

    Only a positive comparison counts: under ``not`` or ``!=`` it proves nothing about
    ownership. Under ``or``, every branch must tie the two together.
    """
    if isinstance(node, Compare):
        if node.op not in ("==", "in"):
            return False
        scopes = {n.scope for n in (node.left, node.right) if isinstance(n, Ref)}
        return scopes == {"subject", "resource"}
    if isinstance(node, BoolOp):
        results = [is_ownership(op) for op in node.operands]
        return any(results) if node.op == "and" else all(results)
    return False


def to_text(node: Node) -> str:
    """Canonical text of a tree (stable: used in policy hashes and diffs)."""
    if isinstance(node, Ref):
        return f"{node.scope}.{node.name}"
    if isinstance(node, Literal):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, int):
            return str(node.value)
        escaped = node.value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'
    if isinstance(node, ListLiteral):
        return "[" + ", ".join(to_text(i) for i in node.items) + "]"
    if isinstance(node, Compare):
        return f"{_wrap(node.left)} {node.op} {_wrap(node.right)}"
    if isinstance(node, Not):
        return f"not {_wrap(node.operand)}"
    return f" {node.op} ".join(_wrap(op) for op in node.operands)


def _wrap(node: Node) -> str:
    text = to_text(node)
    return f"({text})" if isinstance(node, (BoolOp, Compare, Not)) else text


# -- type checking ----------------------------------------------------------------------------

BOOLEAN = "bool"


def check_types(
    node: Node,
    subject_types: Mapping[str, str],
    resource_types: Mapping[str, str],
) -> list[ConditionError]:
    """Every reference to an undeclared attribute and every comparison that can never hold."""
    problems: list[ConditionError] = []

    def type_of(n: Node) -> str:
        if isinstance(n, Ref):
            table = subject_types if n.scope == "subject" else resource_types
            if n.name not in table:
                known = ", ".join(sorted(table)) or "none declared"
                problems.append(
                    ConditionError(
                        f"unknown attribute {n.scope}.{n.name} (known: {known})", n.column, "AZ205"
                    )
                )
                return "any"
            return table[n.name]
        if isinstance(n, Literal):
            return (
                "bool"
                if isinstance(n.value, bool)
                else "int"
                if isinstance(n.value, int)
                else "str"
            )
        if isinstance(n, ListLiteral):
            kinds = {type_of(i) for i in n.items}
            if len(kinds) > 1:
                problems.append(
                    ConditionError("list mixes values of different types", n.column, "AZ208")
                )
            return "list"
        if isinstance(n, Compare):
            left, right = type_of(n.left), type_of(n.right)
            if n.op in ("==", "!="):
                if not _comparable(left, right):
                    problems.append(
                        ConditionError(
                            f"comparing {left} with {right} is never equal: check the types",
                            n.column,
                            "AZ208",
                        )
                    )
            elif right != "list" and right != "any":
                problems.append(
                    ConditionError(
                        f"'{n.op}' needs a list on its right, not {right}", n.column, "AZ208"
                    )
                )
            elif isinstance(n.right, ListLiteral) and n.right.items:
                element = type_of(n.right.items[0])
                if not _comparable(left, element):
                    problems.append(
                        ConditionError(
                            f"looking for a {left} in a list of {element}", n.column, "AZ208"
                        )
                    )
            return BOOLEAN
        if isinstance(n, Not):
            expect_bool(n.operand, "'not'")
            return BOOLEAN
        for operand in n.operands:
            expect_bool(operand, f"'{n.op}'")
        return BOOLEAN

    def expect_bool(n: Node, where: str) -> None:
        kind = type_of(n)
        if kind not in (BOOLEAN, "any"):
            problems.append(
                ConditionError(
                    f"{where} needs a true/false value, not a {kind}", _column(n), "AZ208"
                )
            )

    expect_bool(node, "a condition")
    return problems


def _column(node: Node) -> int:
    return node.column


def _comparable(left: str, right: str) -> bool:
    if "any" in (left, right) or left == right:
        return True
    # A key is an object's primary key: an int or a string depending on the model.
    return {left, right} in ({"key", "int"}, {"key", "str"})
