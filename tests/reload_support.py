"""Policies and helpers shared by the reload tests (tests/test_reload*.py)."""

from __future__ import annotations

import os
from pathlib import Path

from authzguard.policy import compile_policy, load_policy

#: Owners read their tickets; nobody closes a frozen one.
GOOD = """\
version: 1
resources:
  ticket:
    actions: {read: {}, close: {}}
    attributes: {owner: key, status: str}
rules:
  - {id: owner-reads, effect: allow, subjects: [authenticated], actions: [read, close],
     resource: ticket, when: resource.owner == subject.id}
  - {id: no-closing-frozen, effect: deny, subjects: ["*"], actions: [close], resource: ticket,
     when: resource.status == "frozen"}
"""

#: The next version: one more rule.
NEXT = GOOD.replace(
    "rules:\n",
    "rules:\n  - {id: everyone-reads, effect: allow, subjects: [authenticated], actions: [read],\n"
    "     resource: ticket}\n",
)

#: A third version, for a host that does not have it yet.
THIRD = NEXT.replace("everyone-reads", "all-read")

#: NEXT without its deny: valid, and wider. What a reader sees mid-write.
WIDER = NEXT[: NEXT.index("  - {id: no-closing-frozen")]


def version_of(text: str, directory: Path) -> str:
    """The version ``text`` compiles to (the file name does not change the version)."""
    path = directory / f".version-{os.getpid()}.yaml"
    path.write_text(text)
    try:
        return compile_policy(load_policy([path])).version
    finally:
        path.unlink()


def deploy(directory: Path, text: str, name: str = "policy.yaml") -> None:
    """Write then rename: readers see the old file or the new one, never half of one."""
    temporary = directory / f".{name}.tmp"
    temporary.write_text(text)
    temporary.replace(directory / name)
