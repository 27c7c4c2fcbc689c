"""The process's current policy: loaded on first use, swapped atomically on reload.

A ``CompiledPolicy`` is immutable, so readers never lock: they take a reference to
whatever is current and decide against it, while ``reload_policy`` builds the next
one completely before a single assignment makes it current. A reload that fails
leaves the current policy in place and raises; a first load that fails raises the
same error on every use, without re-reading the files, until ``reload_policy`` succeeds
(fail closed: nothing is allowed without a policy).
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
#: The error of a failed first load, raised again on every use until a reload or a
#: settings change: a broken policy must not cost a re-read of the files per request.
_failure: Exception | None = None
_build_lock = threading.Lock()


def build_policy() -> CompiledPolicy:
    """Load, check and compile the policy files, without making the result current."""
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
    global _current, _failure
    current = _current
    if current is not None:
        return current
    with _build_lock:
        if _current is None:
            if _failure is not None:
                raise _failure
            try:
                _current = build_policy()
            except Exception as exc:
                _failure = exc
                raise
        return _current


def reload_policy() -> CompiledPolicy:
    """Load the policy files again and make the result current (atomically)."""
    global _current, _failure
    with _build_lock:
        try:
            fresh = build_policy()
        except Exception as exc:
            if _current is None:
                _failure = exc
            raise
        previous, _current, _failure = _current, fresh, None
    _announce(fresh, previous)
    return fresh


def loaded_policy() -> CompiledPolicy | None:
    """The current policy if one has loaded, without loading it."""
    return _current


def replace_policy(fresh: CompiledPolicy, previous: CompiledPolicy | None) -> bool:
    """Make ``fresh`` current if ``previous`` still is (compare and swap).

    ``False`` when another reload replaced ``previous`` meanwhile: nothing changed.
    """
    global _current, _failure
    with _build_lock:
        if _current is not previous:
            return False
        _current, _failure = fresh, None
    _announce(fresh, previous)
    return True


def _announce(fresh: CompiledPolicy, previous: CompiledPolicy | None) -> None:
    from authzguard.signals import policy_reloaded

    policy_reloaded.send(
        sender=CompiledPolicy,
        policy=fresh,
        previous_version=previous.version if previous is not None else None,
    )


def reset_policy() -> None:
    """Forget the current policy; the next use loads it again."""
    global _current, _failure
    with _build_lock:
        _current, _failure = None, None


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("AUTHZGUARD_"):
        reset_policy()
