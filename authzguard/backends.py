"""An object-permission backend: ``user.has_perm("user.delete", obj)`` asks the policy.

Add it next to Django's own backend::

    AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "authzguard.backends.AuthzGuardBackend",
    ]

Permission names are ``"<resource kind>.<action>"``. The backend answers only for kinds
and actions the policy declares (everything else is left to the other backends) and
authenticates nobody. Django's ``User.has_perm`` returns ``True`` for active superusers
without asking any backend; :func:`allows` asks the policy even for them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from authzguard.policy.model import Resource
from authzguard.resolvers import check_kind_model, resource_attributes
from authzguard.subjects import subject_for

logger = logging.getLogger("authzguard")


def allows(user: Any, action: str, kind: str, obj: object = None) -> bool:
    """Whether the policy allows ``user`` to do ``action`` on ``obj`` (of ``kind``).

    Without ``obj``, only rules whose conditions read no resource attribute can allow.
    Any error is a ``False``.
    """
    from authzguard.runtime import get_policy

    try:
        policy = get_policy()
        resource_kind = policy.policy.resources.get(kind)
        if resource_kind is None or action not in resource_kind.actions:
            return False
        subject = subject_for(user, policy, kind=kind, action=action)
        attributes: Mapping[str, object] = {}
        if obj is not None:
            check_kind_model(obj, resource_kind)
            attributes = resource_attributes(obj, resource_kind)
        decision = policy.decide(subject, action, Resource(kind, attributes))
    except Exception:  # fail closed
        logger.exception("authzguard could not decide %s.%s", kind, action)
        return False
    return decision.allowed and decision.error is None


class AuthzGuardBackend:
    """Answers ``has_perm("<kind>.<action>", obj)`` from the policy; authenticates nobody."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> None:
        return None

    def has_perm(self, user_obj: Any, perm: str, obj: object = None) -> bool:
        kind, _, action = perm.partition(".")
        if not kind or not action or not getattr(user_obj, "is_active", False):
            return False
        return allows(user_obj, action, kind, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return False
