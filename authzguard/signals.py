"""Signals authzguard sends: extension points for projects (Django signals, not POSIX ones)."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent after a new policy has replaced the current one in this process, once per swap.
#: Keyword arguments: ``policy`` (the new ``CompiledPolicy``) and ``previous_version``
#: (the replaced policy's version, or ``None`` when no policy had loaded).
policy_reloaded = Signal()
