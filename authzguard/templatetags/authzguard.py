"""``{% authz_allows %}``: show a control only to those the policy lets use it.

::

    {% load authzguard %}
    {% authz_allows "delete" "user" account as can_delete %}
    {% if can_delete %}<button>Delete</button>{% endif %}

It only hides or shows: the view's own check (``@authorize``) still decides.
"""

from __future__ import annotations

from typing import Any

from django import template

from authzguard.backends import allows

register = template.Library()


@register.simple_tag(takes_context=True)
def authz_allows(context: template.Context, action: str, kind: str, obj: object = None) -> bool:
    """Whether the current user may do ``action`` on ``obj`` of ``kind``."""
    request = context.get("request")
    user: Any = getattr(request, "user", None) or context.get("user")
    if user is None:
        return False
    return allows(user, action, kind, obj)
