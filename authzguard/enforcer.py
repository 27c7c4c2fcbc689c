"""The Casbin engine: the only module that imports ``casbin``.

It builds a stock pycasbin ``Enforcer`` from the compiled model text and rows (the same
ones ``authzguard compile`` writes) and answers ``decide`` through ``enforce_ex``. It is
the reference the indexed evaluator is tested against, and selectable at run time with
``AUTHZGUARD_ENGINE = "casbin"``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import casbin
from casbin.model import Model

from authzguard.policy.compiler import CompiledPolicy, resource_env, subject_env
from authzguard.policy.model import Decision, Resource, Subject


def request_values(subject: Subject, action: str, resource: Resource) -> tuple[object, str, object]:
    """The ``(r.sub, r.act, r.obj)`` values for a Casbin request."""
    sub = SimpleNamespace(
        roles=CompiledPolicy.casbin_subject_roles(subject), **subject_env(subject)
    )
    obj = SimpleNamespace(kind=resource.kind, **resource_env(resource))
    return sub, action, obj


def build_enforcer(compiled: CompiledPolicy) -> casbin.Enforcer:
    model = Model()
    model.load_model_from_text(compiled.casbin_model())
    # enable_log=False: pycasbin otherwise configures logging, which a library must not do.
    enforcer = casbin.Enforcer(model, enable_log=False)
    rows = compiled.casbin_rows()
    # Casbin stops at the first deny row that matches but reports the *last* allow row
    # that matched; with denies first and allows in reverse file order, the rule it names
    # is the one the policy language names (the first in file order) in both cases.
    p_rows = [row[1:] for row in rows if row[0] == "p" and row[5] == "deny"]
    p_rows += reversed([row[1:] for row in rows if row[0] == "p" and row[5] == "allow"])
    g_rows = [row[1:] for row in rows if row[0] == "g"]
    if p_rows:
        enforcer.add_policies(p_rows)
    if g_rows:
        enforcer.add_grouping_policies(g_rows)
    return enforcer


def load_files(model_path: Path, policy_path: Path) -> casbin.Enforcer:
    """A stock enforcer from files written by ``authzguard compile`` (no help from us)."""
    return casbin.Enforcer(str(model_path), str(policy_path), enable_log=False)


#: One lock for every engine: pycasbin's role manager mutates on lookup, and during a
#: reload the old and the new engine decide at once. On CPython 3.11 concurrent
#: ``ast.parse`` calls (pycasbin parses each matcher) can fail with a SystemError.
_ENGINE_LOCK = threading.Lock()


class CasbinEngine:
    """``decide`` through pycasbin, serialized across all engines of the process."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._compiled = compiled
        self._enforcer = build_enforcer(compiled)
        self._lock = _ENGINE_LOCK

    def __call__(self, subject: Subject, action: str, resource: Resource) -> Decision:
        return self.decide(subject, action, resource)

    def decide(self, subject: Subject, action: str, resource: Resource) -> Decision:
        values = request_values(subject, action, resource)
        try:
            with self._lock:
                allowed, explain = self._enforcer.enforce_ex(*values)
        except Exception as exc:  # pycasbin raises bare RuntimeError and evaluator errors
            return Decision(
                False, None, f"denied: a condition could not be evaluated ({exc})", error=str(exc)
            )
        rule_id = explain[-1] if explain else None
        if allowed:
            rule = self._compiled.policy.rule(str(rule_id))
            chain = self._compiled.chain(subject, rule)
            return Decision(True, rule.id, f"allowed by rule {rule.id!r} (casbin)", chain)
        if rule_id is not None and explain[-2] == "deny":
            rule = self._compiled.policy.rule(str(rule_id))
            return Decision(
                False,
                rule.id,
                f"denied by rule {rule.id!r} (casbin)",
                self._compiled.chain(subject, rule),
            )
        reason = self._compiled.no_match(subject, action, resource.kind).reason
        return Decision(False, None, f"{reason} (casbin)")


def with_casbin(compiled: CompiledPolicy) -> CompiledPolicy:
    """The same compiled policy, deciding through pycasbin."""
    return compiled.with_decider(CasbinEngine)
