"""``AuthorizeMixin``: ``@authorize`` for class-based views, declared as class attributes.

::

    class NoteDetail(AuthorizeMixin, DetailView):
        model = Note
        authz_action = "read"
        authz_resource = "note"
        authz_target = "pk"          # a parameter name or a resolver callable
        authz_source = "path"

The middleware reads the declaration before the view runs; without the middleware,
``dispatch`` enforces it. ``get_object()`` returns the authorized object, so a
``DetailView`` or ``DeleteView`` never fetches its target a second time.
"""

from __future__ import annotations

from typing import Any, ClassVar

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from authzguard.decorators import make_binding
from authzguard.enforcement import aenforce, enforce
from authzguard.guard import Binding
from authzguard.resolvers import Resolver


class AuthorizeMixin:
    """Let the view run only when the policy allows ``authz_action`` on its target."""

    authz_action: ClassVar[str | None] = None
    authz_resource: ClassVar[str | None] = None
    authz_target: ClassVar[str | Resolver | None] = None
    authz_source: ClassVar[str | None] = None
    authz_model: ClassVar[str | None] = None
    authz_field: ClassVar[str] = "pk"
    authz_pass_as: ClassVar[str | None] = None
    authz_max_length: ClassVar[int | None] = None

    request: HttpRequest
    view_is_async: ClassVar[bool]

    @classmethod
    def get_authz_binding(cls) -> Binding:
        """The class's binding, built once per class (``ValueError`` if misdeclared)."""
        cached: Binding | None = cls.__dict__.get("_authz_binding")
        if cached is not None:
            return cached
        if not cls.authz_action or not cls.authz_resource:
            raise ValueError(f"{cls.__qualname__}: set authz_action and authz_resource")
        target = cls.__dict__.get("authz_target", cls.authz_target)
        if isinstance(target, staticmethod):
            target = target.__func__
        binding = make_binding(
            cls.authz_action,
            cls.authz_resource,
            target=target,
            source=cls.authz_source,
            model=cls.authz_model,
            field=cls.authz_field,
            pass_as=cls.authz_pass_as,
            max_length=cls.authz_max_length,
            origin="mixin",
        )
        type.__setattr__(cls, "_authz_binding", binding)
        return binding

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        binding = self.get_authz_binding()
        parent = super().dispatch  # type: ignore[misc]
        if getattr(self, "view_is_async", False) or iscoroutinefunction(parent):

            async def _async_dispatch() -> HttpResponseBase:
                denied = await aenforce(request, binding, kwargs)
                if denied is not None:
                    return denied
                response: HttpResponseBase = await parent(request, *args, **kwargs)
                return response

            return _async_dispatch()
        denied = enforce(request, binding, kwargs)
        if denied is not None:
            return denied
        return parent(request, *args, **kwargs)

    def get_object(self, queryset: Any = None) -> Any:
        """The authorized target, when there is one; otherwise the parent's lookup."""
        authz = getattr(self.request, "authz", None)
        if queryset is None and authz is not None and authz.allowed and authz.target is not None:
            return authz.target
        return super().get_object(queryset)  # type: ignore[misc]
