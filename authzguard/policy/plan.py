"""Partial evaluation: what a policy leaves to check about a kind's objects, subject known.

The rules that apply to the subject on (kind, action) are those ``decide`` evaluates;
with the subject's values put into their conditions, each condition folds as far as it
can without reading the resource (``subject.id == 3`` becomes ``true``). What is left is
a :class:`Residual`: either a verdict, ``ALWAYS`` or ``NEVER``, that holds whatever the
object, or the conditions left to check on it, rule by rule. List filtering compiles
those into SQL (:mod:`authzguard.filtering`); ``authzguard plan`` prints them.

Folding keeps ``decide``'s failures: a subject value that is absent stays a reference
(reading it fails, which denies), and a part whose evaluation could fail is never
dropped (``resource.x == 1 or true`` stays as written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from authzguard.exceptions import EvaluationError
from authzguard.policy import conditions, evaluation
from authzguard.policy.compiler import subject_env
from authzguard.policy.conditions import BoolOp, Compare, ListLiteral, Node, Not, Ref
from authzguard.policy.conditions import Literal as Const
from authzguard.policy.model import Resource, Rule, Subject

if TYPE_CHECKING:
    from authzguard.policy.compiler import CompiledPolicy

Verdict = Literal["ALWAYS", "NEVER"]


@dataclass(frozen=True, slots=True)
class Residual:
    """The applicable rules of one (subject, kind, action), folded with the subject known.

    ``denies`` and ``allows`` pair each rule still undecided with what is left of its
    condition (policy order). ``verdict`` is set when the answer is the same for every
    object; ``reason`` says why.
    """

    kind: str
    action: str
    verdict: Verdict | None
    reason: str
    denies: tuple[tuple[Rule, Node], ...] = ()
    allows: tuple[tuple[Rule, Node], ...] = ()

    def condition(self) -> Node | None:
        """The residual as one condition (``None`` with a verdict).

        Read it with ``decide``'s rules: a value that is absent denies wherever it is
        read, and every allow part is read (one that fails denies, even when another
        holds).
        """
        if self.verdict is not None:
            return None
        parts: list[Node] = [Not(node) for _, node in self.denies]
        allows = [node for _, node in self.allows]
        parts.append(allows[0] if len(allows) == 1 else BoolOp("or", tuple(allows)))
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def text(self) -> str:
        """``ALWAYS``, ``NEVER``, or the canonical text of :meth:`condition`."""
        node = self.condition()
        if self.verdict is not None or node is None:
            return self.verdict or "NEVER"
        return conditions.to_text(node)


def residual(policy: CompiledPolicy, subject: Subject, action: str, kind: str) -> Residual:
    """What is left to check on objects of ``kind`` for ``subject`` to be allowed ``action``."""
    declared = policy.policy.resources.get(kind)
    if declared is None or action not in declared.actions:
        return Residual(kind, action, "NEVER", f"{kind!r} declares no action {action!r}")
    problem = policy.type_problem(subject, Resource(kind, {}))
    if problem is not None:
        return Residual(kind, action, "NEVER", f"denied: {problem}")
    denies, allows = policy.applicable_rules(subject, action, kind)
    if not allows:
        return Residual(kind, action, "NEVER", f"no allow rule applies on {action} over {kind}")
    env = subject_env(subject)
    left_denies: list[tuple[Rule, Node]] = []
    for rule in denies:
        node = _fold_rule(rule, env)
        constant = _constant_truth(node)
        if constant is False:
            continue  # holds for no object: never denies
        if constant is not None:  # True, or a failure: denies every object it reaches
            return Residual(kind, action, "NEVER", f"deny rule {rule.id!r} applies to every object")
        left_denies.append((rule, node))
    left_allows: list[tuple[Rule, Node]] = []
    for rule in allows:
        node = _fold_rule(rule, env)
        constant = _constant_truth(node)
        if constant is False:
            continue
        if constant == "fails":
            return Residual(kind, action, "NEVER", f"allow rule {rule.id!r} cannot be evaluated")
        left_allows.append((rule, node))
    if not left_allows:
        return Residual(kind, action, "NEVER", "no applicable allow rule can hold")
    if not left_denies and all(_constant_truth(node) is True for _, node in left_allows):
        return Residual(kind, action, "ALWAYS", f"allow rule {left_allows[0][0].id!r} holds")
    return Residual(
        kind, action, None, "depends on the object", tuple(left_denies), tuple(left_allows)
    )


def _fold_rule(rule: Rule, env: Mapping[str, object]) -> Node:
    return Const(True) if rule.when is None else fold(rule.when.tree, env)


def _constant_truth(node: Node) -> bool | Literal["fails"] | None:
    """The decision value of a condition that reads no resource attribute (``fails`` if
    evaluating it fails), or ``None`` when it reads one."""
    if any(ref.scope == "resource" for ref in conditions.refs(node)):
        return None
    try:
        return evaluation.truth(evaluation.compile_evaluator(node)({}, {}))
    except EvaluationError:
        return "fails"


def fold(node: Node, env: Mapping[str, object]) -> Node:
    """``node`` with the subject's values ``env`` put in, folded where no failure is lost."""
    if isinstance(node, Ref):
        if node.scope == "subject" and node.name in env:
            value = env[node.name]
            if isinstance(value, (str, int)):
                return Const(value, node.column)
        return node
    if isinstance(node, (Const, ListLiteral)):
        return node
    if isinstance(node, Compare):
        folded = Compare(node.op, fold(node.left, env), fold(node.right, env), node.column)
        return _evaluated(folded)
    if isinstance(node, Not):
        operand = fold(node.operand, env)
        if isinstance(operand, Const):
            return Const(not operand.value, node.column)
        return Not(operand, node.column)
    return _fold_bool(node.op, [fold(op, env) for op in node.operands], node.column)


def _evaluated(node: Compare) -> Node:
    """A comparison of constants as its value; anything else unchanged."""
    if not all(isinstance(side, (Const, ListLiteral)) for side in (node.left, node.right)):
        return node
    try:
        value = evaluation.compile_evaluator(node)({}, {})
    except EvaluationError:
        return node
    return Const(bool(value), node.column)


def _fold_bool(op: str, operands: list[Node], column: int) -> Node:
    """``and``/``or`` without the constants Python's short-circuit makes irrelevant.

    A constant that ends the evaluation (``false`` in ``and``) drops what follows it,
    never what precedes it: those parts are evaluated first and may fail.
    """
    stops = op == "or"  # the truth value that ends the evaluation
    kept: list[Node] = []
    for operand in operands:
        if isinstance(operand, Const) and bool(operand.value) != stops:
            continue  # evaluation goes on to the next part, value unused
        kept.append(operand)
        if isinstance(operand, Const):
            break
    if not kept:
        return Const(not stops, column)
    return kept[0] if len(kept) == 1 else BoolOp(op, tuple(kept), column)
