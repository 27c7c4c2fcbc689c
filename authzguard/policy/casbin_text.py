"""A compiled policy as Casbin text: the model and the ``p``/``g`` rows.

Loaded into stock pycasbin (``authzguard.enforcer``, or by hand from the files that
``authzguard compile`` writes), they give the decisions of the indexed evaluator; the
equivalence tests hold both to that.
"""

from __future__ import annotations

from authzguard.policy.evaluation import to_casbin
from authzguard.policy.model import Policy, Subject

ROLE_PREFIX = "role:"

CASBIN_MODEL = """\
[request_definition]
r = sub, act, obj

[policy_definition]
p = sub, kind, act, cond, eft, rid

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.obj.kind == p.kind && r.act == p.act && True in [g(x, p.sub) for x in r.sub.roles] && eval(p.cond)
"""


def casbin_rows(policy: Policy) -> list[list[str]]:
    """``p`` rows (one per rule, subject and action) then ``g`` rows (inheritance)."""
    rows: list[list[str]] = []
    for rule in policy.rules:
        cond = to_casbin(rule.when.tree) if rule.when else "True"
        for subject in rule.subjects:
            for action in rule.actions:
                rows.append(
                    ["p", ROLE_PREFIX + subject, rule.resource, action, cond, rule.effect, rule.id]
                )
    for role in policy.roles.values():
        for parent in role.inherits:
            rows.append(["g", ROLE_PREFIX + role.name, ROLE_PREFIX + parent])
    return rows


def casbin_subject_roles(subject: Subject) -> list[str]:
    """The role names a Casbin request carries for this subject (inheritance is Casbin's)."""
    names = [
        "*",
        "authenticated" if subject.authenticated else "anonymous",
        *sorted(subject.roles),
    ]
    return [ROLE_PREFIX + n for n in names]
