"""Who may do what: principals built from Django facts, and each one's access per action.

A principal is a set of Django facts (anonymous, or signed in with some of staff,
superuser and the groups the policy names); the policy maps it to roles through
``granted_to`` and ``inherits`` exactly as at run time (:func:`subject_from_facts`).
For one principal, kind and action, the *access* is the rules that apply to it and
the condition they make together: some applicable allow holds and no applicable deny
holds (and nothing fails to evaluate). Its text is canonical: the same whatever the
order, layout or quoting of the policy, so two policies that say the same thing print
the same access.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from authzguard.policy import conditions
from authzguard.policy.compiler import CompiledPolicy
from authzguard.policy.facts import Facts, subject_from_facts
from authzguard.policy.model import Policy, Rule, Subject

#: Up to this many facts (anonymous, authenticated, staff, superuser, groups), every
#: combination is a principal; beyond it, only single facts and pairs.
MAX_COMBINED_FACTS = 10
#: The id an enumerated signed-in principal has when no condition reads it.
DEFAULT_ID = 1


@dataclass(frozen=True, slots=True)
class Principal:
    """A kind of user, by the Django facts the policy grants roles on."""

    label: str
    facts: Facts


@dataclass(frozen=True, slots=True)
class Principals:
    principals: tuple[Principal, ...]
    #: Facts combined (``anonymous``, ``authenticated``, ``staff``, ``superuser``, groups).
    facts: tuple[str, ...]
    #: ``True`` when there were too many facts for every combination (singletons and pairs).
    partial: bool

    def note(self) -> str:
        count = len(self.principals)
        if self.partial:
            return (
                f"{len(self.facts)} facts ({', '.join(self.facts)}) are more than "
                f"{MAX_COMBINED_FACTS}: {count} principals, each fact alone and in pairs, "
                "not every combination"
            )
        return f"{count} principals: every combination of {', '.join(self.facts)}"


def policy_groups(policies: Iterable[Policy]) -> list[str]:
    """The Django groups any of the policies grants a role to, sorted."""
    return sorted(
        {
            source.group
            for policy in policies
            for role in policy.roles.values()
            for source in role.granted_to
            if source.kind == "group" and source.group is not None
        }
    )


def principals_for(policies: Sequence[Policy]) -> Principals:
    """Anonymous, then signed-in users with every combination of staff, superuser and the
    groups the policies mention (singletons and pairs past :data:`MAX_COMBINED_FACTS`)."""
    extras = ["staff", "superuser", *(f"group:{g}" for g in policy_groups(policies))]
    facts = ("anonymous", "authenticated", *extras)
    partial = len(facts) > MAX_COMBINED_FACTS
    sizes = range(3) if partial else range(len(extras) + 1)
    out = [Principal("anonymous", Facts.anonymous())]
    for size in sizes:
        for combo in itertools.combinations(extras, size):
            groups = tuple(name[len("group:") :] for name in combo if name.startswith("group:"))
            out.append(
                Principal(
                    "+".join(combo) or "authenticated",
                    Facts(
                        authenticated=True,
                        id=DEFAULT_ID,
                        username="user",
                        staff="staff" in combo,
                        superuser="superuser" in combo,
                        groups=groups,
                    ),
                )
            )
    return Principals(tuple(out), facts, partial)


@dataclass(frozen=True, slots=True)
class Applied:
    """A rule that applies to a principal, and the roles that made it apply."""

    rule: Rule
    chain: tuple[str, ...]

    def cite(self) -> str:
        via = f" via {' -> '.join(self.chain)}" if self.chain else ""
        return f"{self.rule.id} ({self.rule.position.file}:{self.rule.position.line}){via}"


@dataclass(frozen=True, slots=True)
class Access:
    """The rules of one (kind, action) that apply to one principal."""

    allows: tuple[Applied, ...]
    denies: tuple[Applied, ...]

    @property
    def rules(self) -> tuple[Applied, ...]:
        return (*self.allows, *self.denies)

    def text(self) -> str:
        """``never``, ``always`` or the canonical condition."""
        if not self.allows or any(a.rule.when is None for a in self.denies):
            return "never"
        allow = _disjunction(a.rule for a in self.allows)
        deny = _disjunction(a.rule for a in self.denies)
        if allow is None:
            return "always" if not self.denies else f"not ({deny})"
        return allow if not self.denies else f"({allow}) and not ({deny})"

    def reads(self) -> set[tuple[str, str]]:
        """The attributes its conditions read, as ``(scope, name)``."""
        return {
            (ref.scope, ref.name)
            for applied in self.rules
            if applied.rule.when is not None
            for ref in conditions.refs(applied.rule.when.tree)
        }

    def literals(self) -> list[object]:
        out: list[object] = []
        for applied in self.rules:
            if applied.rule.when is None:
                continue
            for node in conditions.walk(applied.rule.when.tree):
                if isinstance(node, conditions.Literal) and not _known(node.value, out):
                    out.append(node.value)
        return out


def _known(value: object, seen: list[object]) -> bool:
    # 1 == True in Python: compare by type too, so both stay in the search.
    return any(type(v) is type(value) and v == value for v in seen)


def _disjunction(rules: Iterable[Rule]) -> str | None:
    """The rules' conditions joined by ``or`` (sorted, once each); ``None`` if one has none."""
    texts: set[str] = set()
    for rule in rules:
        if rule.when is None:
            return None
        tree = rule.when.tree
        text = conditions.to_text(tree)
        texts.add(f"({text})" if isinstance(tree, conditions.BoolOp) else text)
    return " or ".join(sorted(texts))


def access(compiled: CompiledPolicy, subject: Subject, kind: str, action: str) -> Access:
    """The rules of ``(kind, action)`` that apply to ``subject``, in policy order."""
    roles = compiled.effective_roles(subject)
    allows: list[Applied] = []
    denies: list[Applied] = []
    for rule in compiled.policy.rules:
        if rule.resource != kind or action not in rule.actions or roles.isdisjoint(rule.subjects):
            continue
        chain = compiled.chain(subject, rule)
        (denies if rule.effect == "deny" else allows).append(Applied(rule, chain))
    return Access(tuple(allows), tuple(denies))


def subject_of(compiled: CompiledPolicy, principal: Principal) -> Subject:
    return subject_from_facts(compiled, principal.facts)


def kind_actions(policies: Sequence[Policy]) -> list[tuple[str, str]]:
    """Every (kind, action) any of the policies declares, sorted."""
    return sorted(
        {
            (kind.name, action)
            for policy in policies
            for kind in policy.resources.values()
            for action in kind.actions
        }
    )
