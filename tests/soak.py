"""How long the concurrency tests run: ``make soak`` runs them ``SOAK_FACTOR`` times longer.

``make test`` keeps them short (a second or two of racing each); a soak gives a rare
interleaving the time to turn up. The factor multiplies durations and round counts, and
the time a suite in its own process may take.
"""

from __future__ import annotations

import os


def factor() -> float:
    """``SOAK_FACTOR`` from the environment (1 when unset); refuses anything but a number ≥ 1."""
    raw = os.environ.get("SOAK_FACTOR", "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"SOAK_FACTOR must be a number, not {raw!r}") from None
    if not value >= 1:
        raise ValueError(f"SOAK_FACTOR must be 1 or more, not {raw!r}")
    return value


def seconds(base: float) -> float:
    return base * factor()


def rounds(base: int) -> int:
    return max(base, round(base * factor()))
