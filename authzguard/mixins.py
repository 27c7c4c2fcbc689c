"""``AuthorizeMixin``: ``@authorize`` for class-based views, declared as class attributes.

::

    class ProjectUpdate(AuthorizeMixin, UpdateView):
        model = Project
        fields = ["name"]
        authz_action = "edit"
        authz_resource = "project"
        authz_target = "pk"          # a parameter name or a resolver callable
        authz_source = "path"

The middleware reads the declaration before the view runs; without the middleware,
``dispatch`` enforces it. On Django's form and deletion views (``CreateView``,
``UpdateView``, ``DeleteView``, ``FormView``) the GET that shows the form is decided
against the POST's action, so it is allowed exactly when the submission would be.
``authz_actions`` maps methods to actions one by one; ``authz_parent`` authorizes a
create against the object the new one belongs to. ``get_object()`` returns the
authorized object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.views.generic.detail import BaseDetailView
from django.views.generic.edit import (
    BaseCreateView,
    BaseUpdateView,
    DeletionMixin,
    ProcessFormView,
)

from authzguard.decorators import make_binding
from authzguard.enforcement import aenforce, enforce, refuse
from authzguard.guard import Binding
from authzguard.resolvers import Resolver

#: What a request may ask for (``View.http_method_names``, upper case).
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"})
_FORM_METHODS = ("GET", "HEAD")

__all__ = ["AuthorizeMixin", "MethodBindings", "shows_form_on_get"]

#: The GET handlers of Django's form and deletion views: they render, never change state.
_FORM_DISPLAY_GETS = frozenset(
    {ProcessFormView.get, BaseCreateView.get, BaseUpdateView.get, BaseDetailView.get}
)


def shows_form_on_get(view_class: type[Any]) -> bool:
    """Whether GET on ``view_class`` only shows a form (or a deletion's confirmation).

    True for subclasses of Django's ``ProcessFormView`` or ``DeletionMixin`` whose ``get``
    is still Django's own: an overridden ``get`` could change state, so it is decided as
    any other GET.
    """
    if not issubclass(view_class, (ProcessFormView, DeletionMixin)):
        return False
    return getattr(view_class, "get", None) in _FORM_DISPLAY_GETS


@dataclass(frozen=True, slots=True)
class MethodBindings:
    """The bindings a view declares, by HTTP method (upper case)."""

    by_method: Mapping[str, Binding] = field(default_factory=dict)
    #: For every method not in ``by_method`` (``None``: those methods are refused, 405).
    fallback: Binding | None = None
    #: A create form's GET (and HEAD) whose query string names no parent: a list of the
    #: parents the user may create under (``choices_param`` is the parent's parameter).
    choices: Binding | None = None
    choices_param: str = ""

    def for_method(self, method: str | None) -> Binding | None:
        found = self.by_method.get((method or "").upper())
        return found if found is not None else self.fallback

    def for_request(self, request: HttpRequest) -> Binding | None:
        """The binding that decides ``request``: by its method, and for a create form's
        GET, by whether the query string names the parent."""
        method = (request.method or "").upper()
        if (
            self.choices is not None
            and method in _FORM_METHODS
            and self.choices_param not in request.GET
        ):
            return self.choices
        return self.for_method(method)

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods mapped one by one (the ``Allow`` of a refused unmapped method)."""
        return tuple(sorted(self.by_method))

    def bindings(self) -> tuple[Binding, ...]:
        """Every distinct binding, in a stable order."""
        found = [*self.by_method.values(), self.fallback, self.choices]
        return tuple(dict.fromkeys(b for b in found if b is not None))


class AuthorizeMixin:
    """Let the view run only when the policy allows its action on its target."""

    authz_action: ClassVar[str | None] = None
    #: Per-method actions (``{"GET": "view", "POST": "edit"}``); HEAD follows GET.
    #: A method neither here nor covered by ``authz_action`` is a 405.
    authz_actions: ClassVar[Mapping[str, str] | None] = None
    authz_resource: ClassVar[str | None] = None
    authz_target: ClassVar[str | Resolver | None] = None
    #: The parameter naming the object a new one belongs to (a create view's parent):
    #: read from the body on submission and from the query string on GET. The parent's
    #: kind is ``authz_resource`` (default: this same name).
    authz_parent: ClassVar[str | None] = None
    authz_source: ClassVar[str | None] = None
    authz_model: ClassVar[str | None] = None
    authz_field: ClassVar[str] = "pk"
    authz_pass_as: ClassVar[str | None] = None
    authz_max_length: ClassVar[int | None] = None

    request: HttpRequest
    view_is_async: ClassVar[bool]

    @classmethod
    def get_authz_bindings(cls) -> MethodBindings:
        """The class's bindings, built once per class (``ValueError`` if misdeclared)."""
        cached: MethodBindings | None = cls.__dict__.get("_authz_bindings")
        if cached is not None:
            return cached
        bindings = _build_bindings(cls)
        type.__setattr__(cls, "_authz_bindings", bindings)
        return bindings

    @classmethod
    def get_authz_binding(cls, method: str = "POST") -> Binding | None:
        """The binding that decides a ``method`` request (``None``: a 405)."""
        return cls.get_authz_bindings().for_method(method)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        declared = self.get_authz_bindings()
        binding = declared.for_request(request)
        parent = super().dispatch  # type: ignore[misc]
        if getattr(self, "view_is_async", False) or iscoroutinefunction(parent):

            async def _async_dispatch() -> HttpResponseBase:
                if binding is None:
                    return await _refuse_in_thread(request, _unmapped(request), declared.methods)
                denied = await aenforce(request, binding, kwargs)
                if denied is not None:
                    return denied
                response: HttpResponseBase = await parent(request, *args, **kwargs)
                return response

            return _async_dispatch()
        if binding is None:
            return refuse(request, _unmapped(request), allowed_methods=declared.methods)
        denied = enforce(request, binding, kwargs)
        if denied is not None:
            return denied
        return parent(request, *args, **kwargs)

    def _authorized_target(self) -> Any:
        """The object this view's own binding authorized for this request, if any."""
        authz = getattr(self.request, "authz", None)
        if authz is None or not authz.allowed or authz.target is None:
            return None
        if authz.binding not in self.get_authz_bindings().bindings():
            return None  # decided for another binding (a view calling this one)
        return authz.target

    def get_object(self, queryset: Any = None) -> Any:
        """The authorized target, when it is this view's object; else the parent's lookup.

        No second query: the object is the one the policy decided on, looked up through
        the kind's model's default manager (the view's own ``get_queryset()`` is not
        applied to it). A create view's parent is never its object.
        """
        target = None if queryset is not None or self.authz_parent else self._authorized_target()
        if target is not None:
            model = getattr(self, "model", None) or getattr(
                getattr(self, "queryset", None), "model", None
            )
            if model is None or isinstance(target, model):
                return target
        return super().get_object(queryset)  # type: ignore[misc]

    def get_initial(self) -> dict[str, Any]:
        """A create form shown for a parent named in the query string starts with it."""
        initial: dict[str, Any] = super().get_initial()  # type: ignore[misc]
        name = self.authz_parent
        parent = self._authorized_target() if name else None
        if name and parent is not None:
            initial.setdefault(name, parent)
        return initial

    def get_form(self, form_class: Any = None) -> Any:
        """A create form's parent field offers only the parents the user may create under
        (:func:`authzguard.filter_queryset` on the parent's kind, in the field's query)."""
        form = super().get_form(form_class)  # type: ignore[misc]
        name = self.authz_parent
        field = form.fields.get(name) if name else None
        if isinstance(getattr(field, "queryset", None), QuerySet):
            field.queryset = self._parent_choices(field.queryset)  # type: ignore[union-attr]
        return form

    def _parent_choices(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        from authzguard import runtime
        from authzguard.filtering import filter_for_subject, filter_queryset

        binding = self.get_authz_bindings().for_request(self.request)
        if binding is None:  # pragma: no cover - dispatch refused the request already
            return queryset.none()
        authz = getattr(self.request, "authz", None)
        if authz is not None and authz.binding is binding and authz.allowed:
            # The subject decided on (its groups read once, for this very pair).
            policy = runtime.get_policy()
            return filter_for_subject(
                policy, authz.subject, binding.action, queryset, binding.resource
            )
        return filter_queryset(self.request, binding.action, queryset, kind=binding.resource)

    def form_valid(self, form: Any) -> Any:
        """Refuse a submission whose parent field is not the parent that was authorized."""
        name = self.authz_parent
        if name and name in getattr(form, "cleaned_data", {}):
            chosen, authorized = form.cleaned_data[name], self._authorized_target()
            if authorized is None or getattr(chosen, "pk", chosen) != authorized.pk:
                raise PermissionDenied("Forbidden.")
        return super().form_valid(form)  # type: ignore[misc]


def _unmapped(request: HttpRequest) -> str:
    return f"the view maps no authz action to {request.method}"


def _refuse_unmapped(
    request: HttpRequest, reason: str, methods: tuple[str, ...]
) -> HttpResponseBase:
    return refuse(request, reason, allowed_methods=methods)


_refuse_in_thread = sync_to_async(_refuse_unmapped, thread_sensitive=True)


def _build_bindings(cls: type[AuthorizeMixin]) -> MethodBindings:
    """Validate the class attributes (``ValueError`` naming the mistake) into bindings."""
    name = cls.__qualname__
    parent = cls.authz_parent
    resource = cls.authz_resource or parent
    actions = _method_actions(cls)
    if not resource or not (cls.authz_action or actions):
        raise ValueError(f"{name}: set authz_action (or authz_actions) and authz_resource")
    target = cls.__dict__.get("authz_target", cls.authz_target)
    if isinstance(target, staticmethod):
        target = target.__func__
    if parent is not None:
        if target is not None:
            raise ValueError(f"{name}: set authz_target or authz_parent, not both")
        if not isinstance(parent, str) or not parent:
            raise ValueError(f"{name}: authz_parent must be a parameter name, not {parent!r}")
    form_display = shows_form_on_get(cls)
    made: dict[tuple[str, bool], Binding] = {}

    def binding(action: str, method: str | None) -> Binding:
        on_form = method in _FORM_METHODS
        key = (action, on_form)
        if key not in made:
            source = cls.authz_source
            if parent is not None:
                source = "query" if on_form else (source or "body")
            made[key] = replace(
                make_binding(
                    action,
                    resource,
                    target=parent if parent is not None else target,
                    source=source,
                    model=cls.authz_model,
                    field=cls.authz_field,
                    pass_as=cls.authz_pass_as,
                    max_length=cls.authz_max_length,
                    origin="mixin",
                ),
                form_display=form_display and on_form,
            )
        return made[key]

    by_method = {method: binding(action, method) for method, action in actions.items()}
    if "GET" in by_method and "HEAD" not in by_method:
        by_method["HEAD"] = by_method["GET"]
    # The form's GET is decided against what submits it: the POST's action.
    form_action = actions.get("POST") or cls.authz_action
    if form_action and (form_display or parent is not None):
        for method in _FORM_METHODS:
            by_method.setdefault(method, binding(form_action, method))
    fallback = binding(cls.authz_action, None) if cls.authz_action else None
    shown = by_method.get("GET")
    if parent is not None and shown is not None and shown.target is not None:
        # No parent named: the form offers those the user may create under, filtered
        # like a list (the view runs for whoever an allow rule could cover).
        choices = replace(shown, target=None, listing=True)
        return MethodBindings(by_method, fallback, choices, parent)
    return MethodBindings(by_method, fallback)


def _method_actions(cls: type[AuthorizeMixin]) -> dict[str, str]:
    mapping = cls.authz_actions
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{cls.__qualname__}: authz_actions must map HTTP methods to actions")
    actions: dict[str, str] = {}
    for method, action in mapping.items():
        upper = method.upper() if isinstance(method, str) else ""
        if upper not in HTTP_METHODS:
            raise ValueError(f"{cls.__qualname__}: authz_actions key {method!r} is no HTTP method")
        if not isinstance(action, str) or not action:
            raise ValueError(f"{cls.__qualname__}: authz_actions[{method!r}] must name an action")
        actions[upper] = action
    return actions
