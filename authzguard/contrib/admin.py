"""An opt-in ``ModelAdmin`` mixin: Django's admin follows the policy.

::

    @admin.register(Project)
    class ProjectAdmin(AuthzGuardAdminMixin, admin.ModelAdmin):
        authz_resource = "project"
        authz_view_action = "view"      # the defaults
        authz_change_action = "edit"
        authz_delete_action = "delete"

``has_view_permission``, ``has_change_permission`` and ``has_delete_permission`` ask the
policy: on the object when the admin names one, else whether any allow rule could apply
to the user (``CompiledPolicy.could_allow``), which opens the page. The changelist (and
every object the admin looks up, since it looks them up in ``get_queryset()``) holds
exactly what the user may view: ``get_queryset()`` is narrowed by
:func:`authzguard.filter_queryset` for ``authz_view_action``, in SQL, so that pair's
conditions must become SQL (authzguard.E071-E073 at start-up). Bulk deletions and list-editable saves are decided per object, on
the row as stored. Django's model permissions are not consulted for these; adding stays
Django's own (``has_add_permission``). The admin site still requires ``is_staff``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.core.checks import CheckMessage, Error
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from authzguard.backends import allows
from authzguard.filter_checks import filtered_pair_messages
from authzguard.subjects import subject_for

logger = logging.getLogger("authzguard")

__all__ = ["AuthzGuardAdminMixin"]


def could_allow(user: Any, action: str, kind: str) -> bool:
    """Whether some allow rule for ``action`` on ``kind`` could apply to ``user``."""
    from authzguard.runtime import get_policy

    try:
        policy = get_policy()
        if action not in policy.policy.resources[kind].actions:
            return False
        return policy.could_allow(subject_for(user, policy, kind=kind, action=action), action, kind)
    except Exception:  # fail closed
        logger.exception("authzguard could not tell whether %s.%s could be allowed", kind, action)
        return False


def allowed_rows(
    request: HttpRequest, action: str, kind: str, queryset: QuerySet[Any]
) -> QuerySet[Any]:
    """The rows of ``queryset`` the policy lets the user ``action``, in the one query the
    changelist makes (:func:`authzguard.filter_queryset`); none when that fails."""
    from authzguard.filtering import filter_queryset

    try:
        return filter_queryset(request, action, queryset, kind=kind)
    except Exception:  # fail closed (authzguard.E071-E073 name the cause at start-up)
        logger.exception("authzguard could not filter %s for %s", kind, action)
        return queryset.none()


def admin_messages(model_admin: Any) -> list[CheckMessage]:
    """A mixin without a kind, or naming an undeclared kind or action (E039)."""
    from authzguard.runtime import get_policy

    name = type(model_admin).__qualname__
    kind = model_admin.authz_resource
    if not kind:
        return [_e039(model_admin, f"{name} sets no authz_resource")]
    try:
        policy = get_policy().policy
    except Exception:  # reported by authzguard.E003
        return []
    declared = policy.resources.get(kind)
    if declared is None:
        return [_e039(model_admin, f"{name}: resource {kind!r} is not declared")]
    actions = (
        model_admin.authz_view_action,
        model_admin.authz_change_action,
        model_admin.authz_delete_action,
    )
    undeclared = [
        _e039(model_admin, f"{name}: action {action!r} of {kind!r} is not declared")
        for action in actions
        if action is not None and action not in declared.actions
    ]
    if undeclared:
        return undeclared
    # The changelist is filtered by the view action: its rules must become SQL.
    return filtered_pair_messages(
        policy, name, kind, model_admin.authz_view_action, model_admin.model
    )


def _e039(model_admin: Any, problem: str) -> CheckMessage:
    return Error(
        f"{problem}: the admin refuses every request it would decide.",
        hint="Set authz_resource to the model's kind and authz_view_action, "
        "authz_change_action, authz_delete_action to actions it declares (None: nobody).",
        obj=type(model_admin),
        id="authzguard.E039",
    )


class AuthzGuardAdminMixin:
    """Put it before ``admin.ModelAdmin``; set ``authz_resource`` to the model's kind."""

    authz_resource: ClassVar[str | None] = None
    authz_view_action: ClassVar[str] = "view"
    #: ``None``: nobody changes (or deletes) through the admin.
    authz_change_action: ClassVar[str | None] = "edit"
    authz_delete_action: ClassVar[str | None] = "delete"

    def _authz_allows(self, request: HttpRequest, action: str | None, obj: Any) -> bool:
        kind = self.authz_resource
        if not kind or not action:
            return False  # nobody, or misdeclared (authzguard.E039 at start-up)
        if obj is None:
            return could_allow(request.user, action, kind)
        return allows(request.user, action, kind, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._authz_allows(request, self.authz_view_action, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._authz_allows(request, self.authz_change_action, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._authz_allows(request, self.authz_delete_action, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        actions = (self.authz_view_action, self.authz_change_action, self.authz_delete_action)
        return any(self._authz_allows(request, action, None) for action in actions)

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        messages: list[CheckMessage] = super().check(**kwargs)  # type: ignore[misc]
        return [*messages, *admin_messages(self)]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        return allowed_rows(request, self.authz_view_action, self.authz_resource or "", queryset)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """The bulk "delete selected": every row must be deletable, or nothing is deleted."""
        for obj in queryset:
            if not self._authz_allows(request, self.authz_delete_action, obj):
                raise PermissionDenied
        super().delete_queryset(request, queryset)  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        """A change is decided on the row as stored (the form has already changed ``obj``;
        list-editable saves reach here with no per-object check of Django's own)."""
        if change:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            if stored is None or not self._authz_allows(request, self.authz_change_action, stored):
                raise PermissionDenied
        super().save_model(request, obj, form, change)  # type: ignore[misc]
