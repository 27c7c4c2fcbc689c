"""The exception hierarchy: one base class, precise subclasses.

Django's own exceptions (``PermissionDenied``, ``Http404``, ``ImproperlyConfigured``,
``BadRequest``) are raised at the HTTP edges; everything below the edges raises these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from authzguard.policy.findings import Finding


class AuthzGuardError(Exception):
    """Base class of every error authzguard raises."""


class PolicyError(AuthzGuardError):
    """A policy could not be loaded: carries every finding of the run, not just the first."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings: tuple[Finding, ...] = tuple(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        shown = "\n".join(f.format() for f in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} policy error(s):\n{shown}{more}")


class ConditionError(AuthzGuardError):
    """A ``when:`` condition does not parse or does not type-check."""

    def __init__(self, message: str, column: int = 0, code: str = "AZ207") -> None:
        self.message = message
        self.column = column
        #: The lint code: ``AZ207`` syntax, ``AZ205`` unknown attribute, ``AZ208`` types.
        self.code = code
        super().__init__(f"{message} (at column {column + 1})")


class EvaluationError(AuthzGuardError):
    """A condition could not be evaluated (a missing attribute, a type it cannot compare).

    The decision engine turns it into a deny; it never escapes as an allow.
    """


class ParameterError(AuthzGuardError):
    """A request parameter naming the target is missing, repeated or malformed (HTTP 400)."""

    def __init__(self, message: str, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(message)


class TargetNotFound(AuthzGuardError):
    """No object matches the target parameter (HTTP 404)."""


class AmbiguousTarget(AuthzGuardError):
    """More than one object matches the target parameter: never act on it."""


class FilterError(AuthzGuardError):
    """A list cannot be filtered by the policy in SQL (a condition reads a property, an
    attribute of ``type: any``, a list held in a column...): nothing is fetched instead."""

    def __init__(self, message: str, rule: str | None = None) -> None:
        #: The id of the rule whose condition cannot become SQL, if one is to blame.
        self.rule = rule
        super().__init__(message)
