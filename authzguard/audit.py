"""Structured audit records on the ``authzguard.audit`` logger.

The library never configures logging: it emits one ``INFO`` record per event with the
whole record under ``extra={"authz": {...}}`` (and as JSON in the message), and leaves
handlers, formatters and levels to the project.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from authzguard.guard import Outcome

logger = logging.getLogger("authzguard.audit")
_errors = logging.getLogger("authzguard")


def _default(value: object) -> str:
    return str(value)


def emit(event: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Write one audit record for ``event`` and return it (as written)."""
    full: dict[str, Any] = {"event": event, "time": datetime.now(UTC).isoformat()}
    full.update(record)
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            json.dumps(full, default=_default, sort_keys=True),
            extra={"authz": full},
        )
    return full


def enabled() -> bool:
    """Whether :func:`emit` would write anything (callers may skip building the record)."""
    return logger.isEnabledFor(logging.INFO)


def decision(
    request: HttpRequest, outcome: Outcome, policy_version: str | None, elapsed: float
) -> dict[str, Any]:
    """Write the one ``decision`` record of an evaluation; ``{}`` when nobody listens."""
    if not enabled():
        # Nobody listens: skip building the record (its JSON is only made when written).
        return {}
    authz = outcome.authz
    match = getattr(request, "resolver_match", None)
    try:
        return emit(
            "decision",
            {
                "request_id": authz.request_id,
                "method": request.method,
                "view": match.view_name if match is not None else None,
                "subject": authz.subject.id,
                "authenticated": authz.subject.authenticated,
                "roles": sorted(authz.subject.roles),
                "action": authz.action,
                "resource": authz.resource,
                "target_id": authz.target_id,
                "parameter": authz.parameter,
                "source": authz.source,
                "decision": "allow" if outcome.status == "allow" else "deny",
                "status": outcome.status,
                "rule": authz.decision.rule,
                "reason": authz.decision.reason,
                "error": authz.decision.error,
                "policy_version": policy_version,
                "latency_ms": round(elapsed * 1000, 3),
            },
        )
    except Exception:
        # An audit failure must not turn a deny into an error page that skips the deny.
        _errors.exception("authzguard could not write the audit record")
        return {}
