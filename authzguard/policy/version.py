"""A policy's version: a hash of everything that changes decisions or bindings.

Positions, descriptions and file names are left out, so moving a rule or rewording its
description keeps the version, and audit records can name the policy that decided.
"""

from __future__ import annotations

import hashlib
import json

from authzguard.policy import conditions
from authzguard.policy.model import Condition, Policy


def canonical(policy: Policy) -> dict[str, object]:
    """A JSON-able form of everything that changes decisions or bindings (no positions)."""
    texts: dict[str, str] = {}

    def text_of(when: Condition) -> str:
        # Rules repeat conditions word for word: render each one once. A Condition's tree
        # is what its source parses to, so equal sources have equal canonical texts.
        text = texts.get(when.source)
        if text is None:
            text = texts[when.source] = conditions.to_text(when.tree)
        return text

    return {
        "roles": {
            name: {
                "inherits": sorted(role.inherits),
                "granted_to": sorted(str(s) for s in role.granted_to),
            }
            for name, role in sorted(policy.roles.items())
        },
        "resources": {
            name: {
                "model": kind.model,
                "actions": {
                    a.name: {"safe": a.safe, "methods": a.methods, "destructive": a.destructive}
                    for a in sorted(kind.actions.values(), key=lambda a: a.name)
                },
                "attributes": {
                    a.name: {"type": a.type, "field": a.field}
                    for a in sorted(kind.attributes.values(), key=lambda a: a.name)
                },
            }
            for name, kind in sorted(policy.resources.items())
        },
        "rules": [
            {
                "id": rule.id,
                "effect": rule.effect,
                "subjects": sorted(rule.subjects),
                "actions": sorted(rule.actions),
                "resource": rule.resource,
                "when": text_of(rule.when) if rule.when else None,
            }
            for rule in policy.rules
        ],
        "routes": {
            name: {
                "action": route.action,
                "resource": route.resource,
                "target": None
                if route.target is None
                else {
                    "param": route.target.param,
                    "source": route.target.source,
                    "model": route.target.model,
                    "field": route.target.field,
                    "resolver": route.target.resolver,
                    "pass_as": route.target.pass_as,
                    "max_length": route.target.max_length,
                },
            }
            for name, route in sorted(policy.routes.items())
        },
        "destructive_actions": sorted(policy.destructive_actions),
    }


def policy_version(policy: Policy) -> str:
    text = json.dumps(canonical(policy), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
