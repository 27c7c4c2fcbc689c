"""Decisions stay right while another thread reloads the policy (issue 6, item 2).

Eight reader threads decide with ``sys.setswitchinterval(1e-6)`` (a thread switch every
few bytecodes) while a reloader thread builds policies A and B again and again and
swaps the current reference. Each decision is checked against the answer of the policy
version it was made with, so a torn or half-built index shows up as a wrong decision.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from django.test import override_settings

from authzguard import runtime
from authzguard.enforcer import with_casbin
from authzguard.policy import CompiledPolicy, compile_policy, load_policy
from authzguard.policy.model import Resource, Subject
from tests import policy_reference as reference
from tests import soak

POLICY_A = """\
version: 1
roles:
  editor: {granted_to: [{group: editors}]}
  chief: {inherits: [editor]}
resources:
  doc:
    actions: [read, edit, delete]
    attributes: {owner: key, status: str}
rules:
  - {id: read-published, effect: allow, subjects: ["*"], actions: [read], resource: doc,
     when: resource.status == "published"}
  - {id: edit-own, effect: allow, subjects: [editor], actions: [edit], resource: doc,
     when: resource.owner == subject.id}
  - {id: chief-deletes, effect: allow, subjects: [chief], actions: [delete], resource: doc}
  - {id: keep-own, effect: deny, subjects: ["*"], actions: [delete], resource: doc,
     when: resource.owner == subject.id}
"""

POLICY_B = """\
version: 1
roles:
  editor: {granted_to: [{group: editors}]}
  chief: {inherits: [editor]}
resources:
  doc:
    actions: [read, edit, delete]
    attributes: {owner: key, status: str}
rules:
  - {id: read-drafts, effect: allow, subjects: [authenticated], actions: [read], resource: doc,
     when: resource.status == "draft"}
  - {id: chief-edits, effect: allow, subjects: [chief], actions: [edit], resource: doc}
  - {id: delete-own, effect: allow, subjects: [editor], actions: [delete], resource: doc,
     when: resource.owner == subject.id}
  - {id: no-anonymous, effect: deny, subjects: [anonymous], actions: [read, edit, delete],
     resource: doc}
"""

SUBJECTS = {
    "anonymous": Subject.anonymous(),
    "user": Subject(id=1, username="u1", authenticated=True),
    "editor": Subject(id=2, username="u2", roles=frozenset({"editor"}), authenticated=True),
    "chief": Subject(id=3, username="u3", roles=frozenset({"chief"}), authenticated=True),
}
RESOURCES = [
    Resource("doc", {"owner": owner, "status": status})
    for owner in (1, 2, 3)
    for status in ("published", "draft")
] + [Resource("doc", {"owner": 2})]
REQUESTS = [
    (name, action, resource)
    for name in SUBJECTS
    for action in ("read", "edit", "delete")
    for resource in RESOURCES
]
READERS = 8
# A run lasts until these events have happened, however slow a loaded machine is; both
# are multiplied by SOAK_FACTOR under `make soak` (tests/soak.py).
SWAPS = 10
DECISIONS_PER_READER = 100
HANG_GUARD = 300.0  # seconds: ends a deadlocked run; not a speed requirement


def answers(text: str) -> list[bool]:
    """The right answer to every request, from the independent reading of the spec."""
    raw = yaml.safe_load(text)
    out = []
    for name, action, resource in REQUESTS:
        s = SUBJECTS[name]
        subject = reference.RefSubject(s.roles, s.authenticated, s.id, s.username)
        out.append(
            reference.decide(raw, subject, action, resource.kind, resource.attributes).allowed
        )
    return out


@dataclass
class Run:
    expected: dict[str, list[bool]]
    decisions: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seen_versions: set[str] = field(default_factory=set)
    swaps: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def fast_switching() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def race(
    current: Callable[[], CompiledPolicy],
    reload: Callable[[int], None],
    expected: dict[str, list[bool]],
) -> Run:
    """Readers decide against ``current()`` while ``reload(n)`` swaps policies.

    The run ends once the reloader has swapped ``SWAPS`` times and every reader has made
    ``DECISIONS_PER_READER`` decisions and seen both versions (all times ``SOAK_FACTOR``).
    """
    run = Run(expected)
    stop = threading.Event()
    start = threading.Barrier(READERS + 1)
    # Each reader writes only its own slot; the main thread reads them to know when to stop.
    counts = [0] * READERS
    seen_by: list[set[str]] = [set() for _ in range(READERS)]

    def reader(index: int) -> None:
        seen = seen_by[index]
        try:
            start.wait()
            for n in itertools.count():
                if stop.is_set():
                    break
                name, action, resource = REQUESTS[(n * 7 + index) % len(REQUESTS)]
                subject = SUBJECTS[name]
                if n % 3 == 0 and subject.authenticated:
                    # A role the policy does not know changes nothing, but makes a new
                    # entry in the effective-roles cache (cleared when it grows large).
                    subject = Subject(
                        id=subject.id,
                        username=subject.username,
                        roles=subject.roles | {f"t{index}-{n}"},
                        authenticated=True,
                    )
                policy = current()
                decision = policy.decide(subject, action, resource)
                right = run.expected[policy.version][(n * 7 + index) % len(REQUESTS)]
                counts[index] += 1
                seen.add(policy.version)
                if decision.allowed != right or decision.reason.startswith(
                    "denied: evaluation failed"
                ):
                    with run.lock:
                        run.wrong.append(f"{name} {action} {dict(resource.attributes)}: {decision}")
        except Exception as exc:
            with run.lock:
                run.errors.append(repr(exc))
        with run.lock:
            run.decisions += counts[index]
            run.seen_versions |= seen

    def reloader() -> None:
        try:
            start.wait()
            for n in itertools.count():
                if stop.is_set():
                    break
                reload(n)
                run.swaps += 1
        except Exception as exc:
            with run.lock:
                run.errors.append(repr(exc))

    def done() -> bool:
        return (
            run.swaps >= soak.rounds(SWAPS)
            and min(counts) >= soak.rounds(DECISIONS_PER_READER)
            and all(seen == set(expected) for seen in seen_by)
        )

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    threads.append(threading.Thread(target=reloader))
    with fast_switching():
        for thread in threads:
            thread.start()
        give_up = time.monotonic() + soak.seconds(HANG_GUARD)
        while not done() and not run.errors and time.monotonic() < give_up:
            time.sleep(0.01)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return run


@pytest.fixture
def policy_files(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(POLICY_A, encoding="utf-8")
    b.write_text(POLICY_B, encoding="utf-8")
    return a, b


def _versions(paths: tuple[Path, Path]) -> dict[str, list[bool]]:
    a = compile_policy(load_policy([paths[0]]))
    b = compile_policy(load_policy([paths[1]]))
    expected = {a.version: answers(POLICY_A), b.version: answers(POLICY_B)}
    differ = sum(x != y for x, y in zip(*expected.values(), strict=True))
    assert len(expected) == 2 and differ >= len(REQUESTS) // 3, "A and B must disagree often"
    return expected


def check(run: Run) -> None:
    assert run.errors == []
    assert run.wrong[:5] == []
    assert run.swaps >= soak.rounds(SWAPS), f"only {run.swaps} reloads happened"
    assert run.seen_versions == set(run.expected), "readers did not see both versions"
    wanted = READERS * soak.rounds(DECISIONS_PER_READER)
    assert run.decisions >= wanted, f"only {run.decisions} decisions"


@pytest.mark.parametrize("engine", ["indexed", "casbin"])
def test_decisions_stay_right_through_atomic_swaps(
    policy_files: tuple[Path, Path], engine: str
) -> None:
    expected = _versions(policy_files)
    make: Callable[[CompiledPolicy], CompiledPolicy] = (
        with_casbin if engine == "casbin" else (lambda c: c)
    )
    holder = [make(compile_policy(load_policy([policy_files[0]])))]

    def reload(n: int) -> None:
        # Build completely, then one assignment makes it current (as runtime does).
        holder[0] = make(compile_policy(load_policy([policy_files[(n + 1) % 2]])))

    check(race(lambda: holder[0], reload, expected))


def test_runtime_reload_policy_under_concurrent_decisions(
    policy_files: tuple[Path, Path], tmp_path: Path
) -> None:
    expected = _versions(policy_files)
    live = tmp_path / "live" / "policy.yaml"
    live.parent.mkdir()
    live.write_text(POLICY_A, encoding="utf-8")
    texts = (POLICY_A, POLICY_B)

    def reload(n: int) -> None:
        staged = live.with_suffix(".tmp")
        staged.write_text(texts[(n + 1) % 2], encoding="utf-8")
        os.replace(staged, live)
        runtime.reload_policy()

    with override_settings(AUTHZGUARD_POLICY_PATHS=[live], AUTHZGUARD_ENGINE="indexed"):
        runtime.reset_policy()
        check(race(runtime.get_policy, reload, expected))
    runtime.reset_policy()
