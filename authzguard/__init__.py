"""authzguard: declarative object-level authorization for Django.

The names a project uses are exported here, lazily (PEP 562): importing ``authzguard``
from a settings module loads no Django adapter, so it never raises
``AppRegistryNotReady``. The policy core (``authzguard.policy``) is pure Python; the DRF
permission is ``authzguard.contrib.drf.AuthzGuardPermission``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authzguard.decorators import authorize, authz_exempt
    from authzguard.filtering import filter_queryset
    from authzguard.guard import Authorization
    from authzguard.list_views import AuthorizedListMixin
    from authzguard.mixins import AuthorizeMixin
    from authzguard.policy.model import Decision, Resource, Subject
    from authzguard.runtime import reload_policy

__version__ = "0.1.0.dev0"
__all__ = [
    "Authorization",
    "AuthorizeMixin",
    "AuthorizedListMixin",
    "__version__",
    "authorize",
    "authz_exempt",
    "decide",
    "filter_queryset",
    "reload_policy",
]

#: Each lazily exported name and the module that defines it.
_LAZY = {
    "Authorization": "authzguard.guard",
    "AuthorizeMixin": "authzguard.mixins",
    "AuthorizedListMixin": "authzguard.list_views",
    "filter_queryset": "authzguard.filtering",
    "authorize": "authzguard.decorators",
    "authz_exempt": "authzguard.decorators",
    "reload_policy": "authzguard.runtime",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'authzguard' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later reads skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
