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
from typing import Any

logger = logging.getLogger("authzguard.audit")


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
