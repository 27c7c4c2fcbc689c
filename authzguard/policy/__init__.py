"""The policy core: load, check, compile and decide. Pure Python: no Django, no Casbin."""

from __future__ import annotations

from authzguard.policy.compiler import CompiledPolicy, compile_policy
from authzguard.policy.findings import Finding
from authzguard.policy.loader import lint_paths, load_policy
from authzguard.policy.model import (
    Action,
    Attribute,
    Condition,
    Decision,
    Policy,
    Position,
    Resource,
    ResourceKind,
    Role,
    RoleSource,
    RouteBinding,
    Rule,
    Subject,
    TargetSpec,
)

__all__ = [
    "Action",
    "Attribute",
    "CompiledPolicy",
    "Condition",
    "Decision",
    "Finding",
    "Policy",
    "Position",
    "Resource",
    "ResourceKind",
    "Role",
    "RoleSource",
    "RouteBinding",
    "Rule",
    "Subject",
    "TargetSpec",
    "compile_policy",
    "lint_paths",
    "load_policy",
]
