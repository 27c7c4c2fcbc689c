"""What the policy itself decides for each request of the run, per policy version.

The run knows every user (id, username, email, superuser) and every object; for each
response the worker reports the version that decided (``probe.VERSION_HEADER``), and
the oracle asks that version's compiled policy, through authzguard's own ``decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from authzguard.policy import CompiledPolicy, compile_policy, load_policy
from authzguard.policy.facts import Facts, subject_from_facts
from authzguard.policy.model import Resource, Subject

#: Policy B: the demo's policy plus one rule, so that the edit changes answers that the
#: run can see (every signed-in user may list the accounts).
EDIT_RULE = """
  - id: everyone-lists-users
    effect: allow
    subjects: [authenticated]
    actions: [list]
    resource: user
    description: Added mid-run by the load-and-fault run.
"""
#: Policy C, after the garbage: the demo's policy again, with one rule more that changes
#: nothing the run asks, so that it is a version of its own.
REPAIR_RULE = """
  - id: admin-views-sessions
    effect: allow
    subjects: [admin]
    actions: [view]
    resource: session
    description: Written back after the garbage by the load-and-fault run.
"""
GARBAGE = "version: 1\nrules: [{id: broken, effect: allow, subjects: [\n\x00\xff not yaml ::\n"


@dataclass(frozen=True)
class Account:
    pk: int
    username: str
    email: str
    password: str
    superuser: bool = False


def edited(text: str, rule: str) -> str:
    return text.rstrip("\n") + "\n" + rule


class Oracle:
    """Compiled policies by version; the expected HTTP status of each kind of request."""

    def __init__(self) -> None:
        self.policies: dict[str, CompiledPolicy] = {}

    def add(self, path: Path) -> str:
        compiled = compile_policy(load_policy([path]))
        self.policies[compiled.version] = compiled
        return compiled.version

    def knows(self, version: str) -> bool:
        return all(part in self.policies for part in version.split(".."))

    def _subject(self, policy: CompiledPolicy, actor: Account | None) -> Subject:
        if actor is None:
            return subject_from_facts(policy, Facts.anonymous())
        facts = Facts(
            authenticated=True,
            id=actor.pk,
            username=actor.username,
            email=actor.email,
            superuser=actor.superuser,
            staff=actor.superuser,
        )
        return subject_from_facts(policy, facts)

    def statuses(
        self,
        version: str,
        actor: Account | None,
        action: str,
        kind: str,
        attributes: dict[str, object] | None,
        *,
        allowed_status: int = 200,
    ) -> set[int]:
        """Acceptable statuses under ``version`` (``a..b``: a reload mid-request, either).

        ``attributes`` is ``None`` when the target does not exist (404 once a rule could
        allow). An anonymous caller asking for JSON gets 401, a signed-in one 403.
        """
        found: set[int] = set()
        for part in version.split(".."):
            policy = self.policies[part]
            subject = self._subject(policy, actor)
            denied = 401 if actor is None else 403
            if not policy.could_allow(subject, action, kind):
                found.add(denied)
            elif attributes is None:
                found.add(404)
            else:
                decision = policy.decide(subject, action, Resource(kind, attributes))
                found.add(allowed_status if decision.allowed else denied)
        return found
