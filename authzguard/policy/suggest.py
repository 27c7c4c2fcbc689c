""" "Did you mean ...?" hints, within a budget per lint run.

A file of thousands of misspelt names against thousands of roles would otherwise
compare every name with every role. Each hint pays for the names it looks at; once a
run's budget is spent, findings keep their message and lose only the hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

#: Names scanned per run to pick candidates (a cheap length test each).
SCANNED = 200_000
#: difflib comparisons per run: each costs tens of microseconds for similar names.
COMPARED = 1_000
#: Candidates compared for one name at most.
PER_NAME = 50


class Suggestions:
    """Closest-name hints for one lint run; a name asked again is answered from memory."""

    def __init__(self) -> None:
        self.scanned = SCANNED
        self.compared = COMPARED
        # By (name, id of the names searched); the names are kept so the id stays theirs.
        self._given: dict[tuple[str, int], tuple[Collection[str], str | None]] = {}

    def closest(self, name: str, known: Collection[str]) -> str | None:
        """The known name closest to ``name``, if one is close and the budget allows."""
        remembered = self._given.get((name, id(known)))
        if remembered is not None:
            return remembered[1]
        if self.scanned < len(known) or self.compared <= 0:
            return None
        self.scanned -= len(known)
        # difflib's cutoff (0.6) needs the shorter name at least 3/7 of the longer.
        size = len(name)
        candidates = [k for k in known if 7 * min(len(k), size) >= 3 * max(len(k), size)]
        candidates = candidates[: min(PER_NAME, self.compared)]
        self.compared -= len(candidates)
        matches = difflib.get_close_matches(name, candidates, n=1)
        found = matches[0] if matches else None
        self._given[(name, id(known))] = (known, found)
        return found

    def __call__(self, name: str, known: Collection[str]) -> str:
        """``"; did you mean 'x'?"``, or ``""``."""
        found = self.closest(name, known)
        return f"; did you mean {found!r}?" if found is not None else ""
