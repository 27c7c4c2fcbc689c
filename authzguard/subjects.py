"""The subject of a request: who ``request.user`` is, and which roles the policy grants them.

Roles are recomputed for every user object (so for every request) from the policy's
role sources; nothing is cached in the session, so a role change takes effect on the
next request. Groups cost at most one query, and none when the policy names no group.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import connections, router
from django.db.models import Manager, QuerySet
from django.utils.functional import LazyObject, empty

from authzguard.policy.facts import Facts, subject_from_facts
from authzguard.policy.model import Subject

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from authzguard.policy import CompiledPolicy

_CACHE_ATTR = "_authzguard_subject"

#: The group query's SQL per (user model, database alias, backend), compiled once by the
#: ORM; ``None`` where it cannot be reused as is (then the ORM runs it every time).
_group_sql: dict[tuple[type, str, type], str | None] = {}
_group_sql_lock = threading.Lock()


def _compile_group_sql(user: Any, connection: BaseDatabaseWrapper) -> str | None:
    """The SQL of ``user.groups.values_list("name", flat=True)``, if it can be reused.

    Only for ``auth.Group`` through its stock manager and queryset (nothing that could
    filter differently from one request to the next), an integer key passed unchanged,
    and a column the backend returns without converters: then executing this SQL with
    another user's key is exactly what the ORM would run and return.
    """
    from django.contrib.auth.models import Group

    field = user.__class__._meta.get_field("groups")
    manager = Group._default_manager
    if (
        not field.many_to_many
        or field.related_model is not Group
        or type(manager).get_queryset is not Manager.get_queryset
        or getattr(manager, "_queryset_class", None) is not QuerySet
    ):
        return None
    queryset = user.groups.values_list("name", flat=True)
    if queryset.db != connection.alias:
        return None
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    if params != (user.pk,) or compiler.get_converters([col for col, _, _ in compiler.select]):
        return None
    return str(sql)


def _group_names(user: Any) -> list[str]:
    # Reuse groups a view or middleware already prefetched instead of querying again.
    prefetched = getattr(user, "_prefetched_objects_cache", {}).get("groups")
    if prefetched is not None:
        return [group.name for group in prefetched]
    # The class attribute: on a model instance, ``user.groups`` builds a manager.
    pk = getattr(user, "pk", None)
    if getattr(user.__class__, "groups", None) is not None and type(pk) is int:
        # The query the ORM would run, without building and compiling it per request
        # (most of its cost): the same database, the same SQL, still one query.
        from django.contrib.auth.models import Group

        connection = connections[router.db_for_read(Group, instance=user)]
        key = (user.__class__, connection.alias, type(connection))
        try:
            sql = _group_sql[key]
        except KeyError:
            with _group_sql_lock:
                try:
                    sql = _compile_group_sql(user, connection)
                except Exception:  # an unusual user model: the ORM path below decides
                    sql = None
                _group_sql[key] = sql
        if sql is not None:
            with connection.cursor() as cursor:
                cursor.execute(sql, (pk,))
                return [row[0] for row in cursor.fetchall()]
    groups = getattr(user, "groups", None)
    if groups is None:  # a custom user model without PermissionsMixin has no groups
        return []
    return list(groups.values_list("name", flat=True))


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


def subject_for(
    user: Any, policy: CompiledPolicy, *, kind: str | None = None, action: str | None = None
) -> Subject:
    """The :class:`Subject` for a Django user (``AnonymousUser`` included).

    Given ``kind`` and ``action``, group membership is only queried when it can change
    that decision (``CompiledPolicy.groups_matter``); the subject's roles then omit group-granted
    roles, which no rule for that pair can see. Memoised on the user object for one
    policy version: Django builds a new user object for every request, so the memo
    lives exactly as long as the request.
    """
    return _subject(user, policy, kind, action, defer_groups=False)[0]


def subject_without_groups(
    user: Any, policy: CompiledPolicy, *, kind: str, action: str
) -> tuple[Subject, bool]:
    """The subject without querying group membership, and whether it was left out.

    The second value is ``True`` when the user's groups were not read although rules on
    (``kind``, ``action``) name group-granted roles: decide with this subject first, then
    ask ``CompiledPolicy.groups_could_change`` whether :func:`subject_for` (one query) must
    decide again. ``False`` means the subject is complete for the pair.
    """
    return _subject(user, policy, kind, action, defer_groups=True)


def _subject(
    user: Any,
    policy: CompiledPolicy,
    kind: str | None,
    action: str | None,
    *,
    defer_groups: bool,
) -> tuple[Subject, bool]:
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
        return subject, False
    pending = False
    if user is None or not getattr(user, "is_authenticated", False):
        subject = subject_from_facts(policy, Facts.anonymous())
        need_groups = True  # nothing to query: this subject is complete
    else:
        active = bool(getattr(user, "is_active", True))
        pending = need_groups and active and defer_groups
        groups = _group_names(user) if need_groups and active and not pending else []
        facts = user_facts(user, groups)
        subject = subject_from_facts(policy, facts)
    if user is not None:
        complete = (need_groups and not pending) or not policy.uses_groups
        with contextlib.suppress(AttributeError):
            setattr(user, _CACHE_ATTR, (policy.version, complete, subject))
    return subject, pending
