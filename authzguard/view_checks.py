"""System checks for class-based views' method mappings and for the exempt-view lists
(``authzguard.E05x`` / ``authzguard.W05x``), run by :func:`authzguard.checks.check_enforcement`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Warning
from django.views.generic.edit import DeletionMixin, ProcessFormView

from authzguard.conf import settings
from authzguard.guard import allowed_methods
from authzguard.mixins import AuthorizeMixin, shows_form_on_get
from authzguard.policy.model import Policy

#: Every message these checks can produce, by id: (level, message, hint).
MESSAGES: Sequence[tuple[str, type[Error] | type[Warning], str, str]] = (
    (
        "authzguard.E050",
        Error,
        "{view}: authz_actions maps {method} to the state-changing action {action!r}, but "
        "the view's GET is not a Django form or deletion view's own (it could change "
        "state); the request is refused (405).",
        "Map {method} to a safe action, or let the view's GET be Django's (CreateView, "
        "UpdateView, DeleteView, FormView without an overridden get(): put extra work in "
        "get_context_data()).",
    ),
    (
        "authzguard.W050",
        Warning,
        "{setting} contains a bare {pattern!r}: every view is exempt, and "
        "AUTHZGUARD_DENY_BY_DEFAULT refuses nothing.",
        "List the public views by URL name or dotted path, or a namespace ('public:*').",
    ),
    (
        "authzguard.W051",
        Warning,
        "{view} overrides get(), so its GET is not decided as showing the form of "
        "{action!r}: GET is refused (405).",
        "Leave get() to Django (put extra work in get_context_data()), or map GET to a "
        "safe action: authz_actions = {{'GET': 'view', 'POST': {action!r}}}.",
    ),
)
_BY_ID = {check_id: (level, message, hint) for check_id, level, message, hint in MESSAGES}


def _message(check_id: str, obj: Any = None, **values: Any) -> CheckMessage:
    level, message, hint = _BY_ID[check_id]
    return level(message.format(**values), hint=hint.format(**values), obj=obj, id=check_id)


def _changes_state(policy: Policy, resource: str, action: str) -> bool:
    """Whether ``action`` refuses GET (unknown names are left to ``authzguard.E004``)."""
    kind = policy.resources.get(resource)
    declared = kind.actions.get(action) if kind is not None else None
    return declared is not None and "GET" not in allowed_methods(declared)


def method_mapping_messages(view: str, callback: Any, policy: Policy) -> list[CheckMessage]:
    """A GET mapped to a state-changing action where GET may change state (E050), or a
    form view whose overridden ``get()`` turns its GET into a 405 (W051)."""
    view_class = getattr(callback, "view_class", None)
    if not isinstance(view_class, type) or not issubclass(view_class, AuthorizeMixin):
        return []
    if shows_form_on_get(view_class):
        return []
    resource = view_class.authz_resource or view_class.authz_parent or ""
    mapping = {str(m).upper(): a for m, a in (view_class.authz_actions or {}).items()}
    messages = [
        _message("authzguard.E050", view, view=view, method=method, action=mapping[method])
        for method in ("GET", "HEAD")
        if method in mapping and _changes_state(policy, resource, mapping[method])
    ]
    action = view_class.authz_action
    if (
        issubclass(view_class, (ProcessFormView, DeletionMixin))
        and "GET" not in mapping
        and action
        and _changes_state(policy, resource, action)
    ):
        messages.append(_message("authzguard.W051", view, view=view, action=action))
    return messages


def exempt_list_messages() -> list[CheckMessage]:
    """A bare ``*`` in an exempt list matches every view (W050)."""
    return [
        _message("authzguard.W050", setting=setting, pattern=pattern)
        for setting, patterns in (
            ("AUTHZGUARD_ALLOWED_VIEWS", settings.ALLOWED_VIEWS),
            ("AUTHZGUARD_EXTRA_ALLOWED_VIEWS", settings.EXTRA_ALLOWED_VIEWS),
        )
        for pattern in patterns
        if isinstance(pattern, str) and pattern and set(pattern) == {"*"}
    ]
