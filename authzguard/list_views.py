"""``AuthorizedListMixin``: a ``ListView`` that shows only the objects the policy allows.

::

    class ProjectList(AuthorizedListMixin, ListView):
        model = Project
        authz_action = "list"
        authz_resource = "project"

The view runs for every subject an allow rule on (kind, action) could cover (others get
the ordinary denial); ``get_queryset()`` is then narrowed by
:func:`authzguard.filtering.filter_queryset`, in the one query the list makes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from authzguard.filtering import filter_queryset
from authzguard.mixins import AuthorizeMixin, MethodBindings

__all__ = ["AuthorizedListMixin"]


class AuthorizedListMixin(AuthorizeMixin):
    """Narrow ``get_queryset()`` to the objects the policy allows ``authz_action`` on."""

    @classmethod
    def get_authz_bindings(cls) -> MethodBindings:
        cached: MethodBindings | None = cls.__dict__.get("_authz_list_bindings")
        if cached is not None:
            return cached
        if cls.authz_target is not None or cls.authz_parent is not None:
            raise ValueError(
                f"{cls.__qualname__}: a filtered list has no target: remove authz_target "
                "and authz_parent"
            )
        declared = super().get_authz_bindings()
        listed = MethodBindings(
            {method: replace(b, listing=True) for method, b in declared.by_method.items()},
            replace(declared.fallback, listing=True) if declared.fallback else None,
        )
        type.__setattr__(cls, "_authz_list_bindings", listed)
        return listed

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()  # type: ignore[misc]
        binding = self.get_authz_bindings().for_request(self.request)
        if binding is None:  # pragma: no cover - dispatch refused the request already
            return queryset.none()
        return filter_queryset(self.request, binding.action, queryset, kind=binding.resource)
