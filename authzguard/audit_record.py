"""The ``decision`` audit record of one evaluation (see :mod:`authzguard.audit`).

With ``AUTHZGUARD_AUDIT_ATTRIBUTES`` on, the record also carries the subject's Django
facts and the target's attributes in typed JSON (:mod:`authzguard.policy.typed`): what
``authzguard replay`` needs to decide it again under a candidate policy. That is personal
data (ids, usernames, e-mail addresses, group names, attribute values) in the logs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from authzguard import audit
from authzguard.conf import settings
from authzguard.policy.typed import encode_mapping

if TYPE_CHECKING:
    from authzguard.guard import Outcome
    from authzguard.policy import CompiledPolicy

logger = logging.getLogger("authzguard")


def decision_record(
    request: HttpRequest, outcome: Outcome, policy: CompiledPolicy | None, elapsed: float
) -> dict[str, Any]:
    """Write the record and return it; ``{}`` when nobody listens or writing failed."""
    if not audit.enabled():
        # Nobody listens: skip building the record (its JSON is only made when written).
        return {}
    authz = outcome.authz
    match = getattr(request, "resolver_match", None)
    try:
        record: dict[str, Any] = {
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
            "policy_version": policy.version if policy is not None else None,
            "latency_ms": round(elapsed * 1000, 3),
        }
        if settings.AUDIT_ATTRIBUTES:
            record["facts"] = authz.facts.as_dict() if authz.facts is not None else None
            attributes = authz.attributes
            record["attributes"] = encode_mapping(attributes) if attributes is not None else None
        return audit.emit("decision", record)
    except Exception:
        # An audit failure must not turn a deny into an error page that skips the deny.
        logger.exception("authzguard could not write the audit record")
        return {}
