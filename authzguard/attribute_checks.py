"""System checks for resource attributes that can never be read (``authzguard.E06x``), run
by :func:`authzguard.checks.check_enforcement` for every kind that names its model.

A condition reading such an attribute would deny every request at run time; the
mistake is in the policy or the model, so it is reported at start-up instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from authzguard.attributes import attribute_problem
from authzguard.policy.model import ResourceKind

_READ = "Resource kind {kind!r}: attribute {attribute!r} reads {field!r} on {model}, "

#: Every message these checks can produce, by id: (level, message, hint).
ATTRIBUTE_MESSAGES: Sequence[tuple[str, type[Error] | type[Warning], str, str]] = (
    (
        "authzguard.E060",
        Error,
        _READ + "which cannot be read ({reason}); conditions reading it would always deny.",
        "Point the attribute's field: at a field, relation or property of the model, "
        "crossing forward relations with '.' or '__' (pk, owner.pk, project.owner).",
    ),
    (
        "authzguard.E061",
        Error,
        _READ + "a to-many relation ({reason}): its value is the list of related keys.",
        "Declare it {{type: list, field: {field}}} and test membership: "
        "subject.id in resource.{attribute}.",
    ),
    (
        "authzguard.E062",
        Error,
        _READ + "which crosses a to-many relation before its end ({reason}).",
        "Read the relation itself as a list of keys ({{type: list, field: <relation>}}), "
        "or cross only foreign keys and one-to-one relations before the last part.",
    ),
)
_BY_ID = {check_id: (level, message, hint) for check_id, level, message, hint in ATTRIBUTE_MESSAGES}


def _message(check_id: str, obj: Any = None, **values: Any) -> CheckMessage:
    level, message, hint = _BY_ID[check_id]
    return level(message.format(**values), hint=hint.format(**values), obj=obj, id=check_id)


def attribute_messages(kind: ResourceKind) -> list[CheckMessage]:
    """One error per attribute of ``kind`` that can never be read (its model must exist)."""
    messages: list[CheckMessage] = []
    for attribute in kind.attributes.values():
        problem = attribute_problem(kind, attribute)
        if problem is not None:
            messages.append(
                _message(
                    problem.check_id,
                    kind.name,
                    kind=kind.name,
                    attribute=attribute.name,
                    field=attribute.field or attribute.name,
                    model=kind.model,
                    reason=problem.reason,
                )
            )
    return messages
