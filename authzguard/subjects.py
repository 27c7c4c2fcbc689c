"""The subject of a request: who ``request.user`` is, and which roles the policy grants them.

Roles are recomputed for every user object (so for every request) from the policy's
role sources; nothing is cached in the session, so a role change takes effect on the
next request. Groups cost one query, and none when neither a group-granted role nor a
condition reading ``subject.groups`` can change a decision on the (kind, action) asked
about, or when ``prefetch_related("groups")`` already loaded them. The same query gives
the roles and ``Subject.groups``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.utils.functional import LazyObject, empty

from authzguard.policy.facts import Facts, subject_from_facts
from authzguard.policy.model import Subject

if TYPE_CHECKING:
    from authzguard.policy import CompiledPolicy

_CACHE_ATTR = "_authzguard_subject"


def _group_names(user: Any) -> list[str]:
    groups = getattr(user, "groups", None)
    if groups is None:  # a custom user model without PermissionsMixin has no groups
        return []
    # all() answers from a prefetch_related("groups") when there was one.
    return [group.name for group in groups.all()]


def user_facts(user: Any, groups: Iterable[str] = ()) -> Facts:
    """The facts a policy grants roles on, read from a signed-in Django user.

    ``groups`` are the names of the user's groups, read by the caller when they matter.
    """
    get_email_field = getattr(user, "get_email_field_name", None)
    email_field = get_email_field() if get_email_field is not None else "email"
    return Facts(
        authenticated=True,
        id=user.pk,
        username=user.get_username(),
        email=getattr(user, email_field, None) or None,
        active=bool(getattr(user, "is_active", True)),
        staff=bool(getattr(user, "is_staff", False)),
        superuser=bool(getattr(user, "is_superuser", False)),
        groups=tuple(groups),
    )


def facts_for(user: Any) -> Facts:
    """Every fact about ``user`` a policy could grant a role on, groups always read."""
    if isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return Facts.anonymous()
    return user_facts(user, _group_names(user))


def subject_for(
    user: Any, policy: CompiledPolicy, *, kind: str | None = None, action: str | None = None
) -> Subject:
    """The :class:`Subject` for a Django user (``AnonymousUser`` included).

    Given ``kind`` and ``action``, group membership is read only when a group-granted
    role or a condition reading ``subject.groups`` can change a decision on that pair
    (``CompiledPolicy.groups_matter``, known when the policy is compiled); otherwise the
    subject's roles omit group-granted roles and its ``groups`` is ``None``, which no
    rule for that pair can see. Memoised on the user object for one policy
    version: Django builds a new user object for every request, so the memo lives
    exactly as long as the request.
    """
    if isinstance(user, LazyObject):
        # request.user: read the user itself, not a dozen attributes through the proxy.
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    need_groups = policy.uses_groups and (
        kind is None or action is None or policy.groups_matter(kind, action)
    )
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None and cached[0] == policy.version and (cached[1] or not need_groups):
        subject: Subject = cached[2]
        return subject
    if user is None or not getattr(user, "is_authenticated", False):
        subject = subject_from_facts(policy, Facts.anonymous())
        need_groups = True  # nothing to query: this subject is complete
    else:
        active = bool(getattr(user, "is_active", True))
        groups = _group_names(user) if need_groups and active else []
        # Groups left unread are absent (None), not "none": a condition reading them denies.
        subject = subject_from_facts(policy, user_facts(user, groups), groups_read=need_groups)
    if user is not None:
        with contextlib.suppress(AttributeError):
            setattr(
                user, _CACHE_ATTR, (policy.version, need_groups or not policy.uses_groups, subject)
            )
    return subject
