"""Why a decision came out the way it did: every rule for the request, and what it did.

This reads the policy rule by rule, in declaration order, independently of the index
the engine uses, so an auditor sees each rule's part (not applicable, subject did not
match, condition false, condition failed, matched) next to the engine's decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from authzguard.exceptions import EvaluationError
from authzguard.policy import conditions, evaluation
from authzguard.policy.compiler import CompiledPolicy, resource_env, subject_env
from authzguard.policy.model import Decision, Resource, Rule, Subject


@dataclass(frozen=True, slots=True)
class RuleStep:
    rule: Rule
    #: ``subject-mismatch``, ``condition-false``, ``condition-error`` or ``matched``.
    outcome: str
    chain: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    effective_roles: frozenset[str]
    steps: tuple[RuleStep, ...]

    def as_dict(self) -> dict[str, object]:
        """The explanation as ``--format json`` prints it."""
        d = self.decision
        return {
            "allowed": d.allowed,
            "rule": d.rule,
            "reason": d.reason,
            "chain": list(d.chain),
            "error": d.error,
            "effective_roles": sorted(self.effective_roles),
            "steps": [
                {
                    "rule": s.rule.id,
                    "effect": s.rule.effect,
                    "outcome": s.outcome,
                    "chain": list(s.chain),
                    "detail": s.detail,
                    "position": str(s.rule.position),
                }
                for s in self.steps
            ],
        }

    def lines(self) -> list[str]:
        d = self.decision
        out = [f"decision: {'allow' if d.allowed else 'deny'}"]
        out.append(f"rule: {d.rule or '(none)'}")
        out.append(f"reason: {d.reason}")
        if d.chain:
            out.append(f"chain: {' -> '.join(d.chain)}")
        out.append(f"effective roles: {', '.join(sorted(self.effective_roles))}")
        if not self.steps:
            out.append("rules considered: none declare this action on this resource")
        else:
            out.append("rules considered:")
            for step in self.steps:
                where = step.rule.position
                via = f" via {' -> '.join(step.chain)}" if step.chain else ""
                detail = f" ({step.detail})" if step.detail else ""
                out.append(
                    f"  {step.rule.effect:5} {step.rule.id} [{where}]: {step.outcome}{via}{detail}"
                )
        return out


def explain(
    compiled: CompiledPolicy, subject: Subject, action: str, resource: Resource
) -> Explanation:
    roles = compiled.effective_roles(subject)
    s_env, r_env = subject_env(subject), resource_env(resource)
    steps: list[RuleStep] = []
    for rule in compiled.policy.rules:
        if rule.resource != resource.kind or action not in rule.actions:
            continue
        if roles.isdisjoint(rule.subjects):
            wanted = ", ".join(rule.subjects)
            steps.append(RuleStep(rule, "subject-mismatch", detail=f"needs one of: {wanted}"))
            continue
        chain = compiled.chain(subject, rule)
        if rule.when is None:
            steps.append(RuleStep(rule, "matched", chain, "no condition"))
            continue
        text = conditions.to_text(rule.when.tree)
        try:
            held = evaluation.truth(evaluation.compile_evaluator(rule.when.tree)(s_env, r_env))
        except EvaluationError as exc:
            steps.append(RuleStep(rule, "condition-error", chain, f"{text}: {exc}"))
            continue
        outcome = "matched" if held else "condition-false"
        steps.append(RuleStep(rule, outcome, chain, text))
    return Explanation(compiled.decide(subject, action, resource), roles, tuple(steps))
