"""Pausing Python's cyclic garbage collector while a policy is built.

Building a large policy allocates many small objects (YAML nodes, positions, rules,
index entries), none of them in reference cycles, and each allocation burst makes the
collector walk every tracked object again.
Reference counting still frees everything while the collector is paused; only the
search for cycles waits until the build is over.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
#: Whether the collector was enabled when the outermost pause began.
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause cyclic GC for the block; nested and concurrent pauses share one window.

    The collector is re-enabled only when the last pause ends, and only if it was enabled
    when the first began, so an application that disabled GC itself keeps it disabled
    (one that calls ``gc.disable()`` from another thread *during* a pause finds it
    enabled again when the pause ends).
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
