"""The process's current policy: loaded on first use, swapped atomically on reload.

A ``CompiledPolicy`` is immutable, so readers never lock: they take a reference to
whatever is current and decide against it, while ``reload_policy`` builds the next
one completely before a single assignment makes it current. A reload that fails
leaves the current policy in place and raises; a first load that fails raises on
every use (fail closed: nothing is allowed without a policy).
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from authzguard.conf import settings
from authzguard.policy import compile_policy, load_policy
from authzguard.policy.compiler import CompiledPolicy

_current: CompiledPolicy | None = None
_build_lock = threading.Lock()


def _build() -> CompiledPolicy:
    paths = settings.POLICY_PATHS
    if not paths:
        from authzguard.exceptions import PolicyError
        from authzguard.policy.findings import Finding

        raise PolicyError(
            [Finding("<settings>", 1, 1, "error", "AZ001", "AUTHZGUARD_POLICY_PATHS is empty")]
        )
    compiled = compile_policy(load_policy(paths, max_bytes=settings.MAX_POLICY_BYTES))
    engine = settings.ENGINE
    if engine == "casbin":
        from authzguard.enforcer import with_casbin

        return with_casbin(compiled)
    if engine != "indexed":
        raise ValueError(f"AUTHZGUARD_ENGINE must be 'indexed' or 'casbin', not {engine!r}")
    return compiled


def get_policy() -> CompiledPolicy:
    """The current compiled policy, loading it on first use. Raises ``PolicyError``."""
    global _current
    current = _current
    if current is not None:
        return current
    with _build_lock:
        if _current is None:
            _current = _build()
        return _current


def reload_policy() -> CompiledPolicy:
    """Load the policy files again and make the result current (atomically)."""
    global _current
    with _build_lock:
        fresh = _build()
        _current = fresh
        return fresh


def reset_policy() -> None:
    """Forget the current policy; the next use loads it again."""
    global _current
    with _build_lock:
        _current = None


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("AUTHZGUARD_"):
        reset_policy()
