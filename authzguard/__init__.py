"""authzguard: declarative object-level authorization for Django.

The policy core (``authzguard.policy``) is pure Python and importable without
Django settings; the Django adapters live in their own modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from authzguard.policy.model import Decision, Resource, Subject

__version__ = "0.1.0.dev0"
__all__ = ["__version__", "decide"]


def decide(subject: Subject, action: str, resource: Resource) -> Decision:
    """Decide against the project's current policy (``AUTHZGUARD_POLICY_PATHS``).

    Never raises: without a loadable policy the answer is a deny that says why.
    """
    from authzguard.exceptions import PolicyError
    from authzguard.policy.model import Decision
    from authzguard.runtime import get_policy

    try:
        policy = get_policy()
    except (PolicyError, ValueError) as exc:
        return Decision(False, None, "denied: no policy could be loaded", error=str(exc))
    return policy.decide(subject, action, resource)
