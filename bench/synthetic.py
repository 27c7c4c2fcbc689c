"""Shared by the benchmarks: the per-request policy of any size, timers, targets, output.

The synthetic policy is plain YAML written to disk and loaded by ``load_policy``, so every
engine decides on exactly what a user's policy files would give. Its shape (documented in
docs/performance.md):

* 100 resource kinds ``kind000``..``kind099``, each with actions ``read``, ``update``,
  ``delete`` and attributes ``owner`` (key), ``id`` (key), ``status`` and ``tenant`` (str);
* 212 roles: ``admin`` (superusers), ten departments ``dept0``..``dept9`` (Django groups)
  and 200 teams ``team000``..``team199``, each inheriting one department;
* rule ``i`` goes to kind ``i % 100``; the ``j``-th rule of a kind (``j = i // 100``) is:
  ``j == 0`` an ownership allow (``authenticated``, read/update, ``resource.owner ==
  subject.id``), ``j == 1`` a conditional deny (``*``, update/delete, ``resource.status ==
  "locked"``), ``j == 2`` an admin allow, and beyond that an allow for a random team (80%) or
  department (20%) on random actions, with a tenant condition, an ownership-or-status
  condition or none (seeded, so every run builds the same policy).

Rules never name a role the policy does not define, and no allow is shadowed by an
unconditional deny, so the policy lints clean at every size.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

KINDS = 100
ACTIONS = ("read", "update", "delete")
TEAMS = 200
DEPTS = 10
#: Rules per file: keeps every file far under the loader's size and node limits.
RULES_PER_FILE = 1_000

# The kind the per-request benchmark reads: it has its ownership rule from 10 rules up, and
# rules for teams and departments (granted by Django groups) as the policy grows.
REQUEST_KIND = "kind005"


def kind_name(k: int) -> str:
    return f"kind{k:03d}"


def team_name(t: int) -> str:
    return f"team{t:03d}"


def base_yaml() -> str:
    """Roles and resource kinds (no rules)."""
    lines = ["version: 1", "roles:", "  admin:", "    granted_to: [superuser]"]
    for d in range(DEPTS):
        lines += [f"  dept{d}:", f"    granted_to: [{{group: dept-{d}}}]"]
    for t in range(TEAMS):
        lines += [
            f"  {team_name(t)}:",
            f"    inherits: [dept{t % DEPTS}]",
            f"    granted_to: [{{group: team-{t:03d}}}]",
        ]
    lines.append("resources:")
    for k in range(KINDS):
        lines += [
            f"  {kind_name(k)}:",
            "    model: auth.User",
            "    actions:",
            "      read: {}",
            "      update: {}",
            "      delete: {destructive: true}",
            "    attributes:",
            "      owner: {type: key, field: pk}",
            "      id: {type: key, field: pk}",
            "      status: {type: str, field: username}",
            "      tenant: {type: str, field: email}",
        ]
    return "\n".join(lines) + "\n"


def rule_yaml(i: int, rng: random.Random) -> str:
    k, j = i % KINDS, i // KINDS
    kind = kind_name(k)
    if j == 0:
        return (
            f"  - id: r{i:05d}-own\n    effect: allow\n    subjects: [authenticated]\n"
            f"    actions: [read, update]\n    resource: {kind}\n"
            "    when: resource.owner == subject.id\n"
        )
    if j == 1:
        return (
            f'  - id: r{i:05d}-locked\n    effect: deny\n    subjects: ["*"]\n'
            f"    actions: [update, delete]\n    resource: {kind}\n"
            "    when: resource.status == 'locked'\n"
        )
    if j == 2:
        return (
            f"  - id: r{i:05d}-admin\n    effect: allow\n    subjects: [admin]\n"
            f"    actions: [read, update, delete]\n    resource: {kind}\n"
        )
    subject = (
        team_name(rng.randrange(TEAMS)) if rng.random() < 0.8 else f"dept{rng.randrange(DEPTS)}"
    )
    actions = rng.choice((["read"], ["read", "update"], ["update"], ["delete"], ACTIONS))
    text = (
        f"  - id: r{i:05d}\n    effect: allow\n    subjects: [{subject}]\n"
        f"    actions: [{', '.join(actions)}]\n    resource: {kind}\n"
    )
    pick = rng.randrange(3)
    if pick == 0:
        text += f"    when: resource.tenant in ['t{rng.randrange(5)}', 't{rng.randrange(5, 9)}']\n"
    elif pick == 1:
        text += "    when: resource.owner == subject.id or resource.status != 'archived'\n"
    return text


def write_policy(n_rules: int, directory: Path) -> list[Path]:
    """Write the ``n_rules`` synthetic policy into ``directory``; returns the files."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    files = [directory / "000-base.yaml"]
    files[0].write_text(base_yaml())
    rng = random.Random(20261122)
    for start in range(0, n_rules, RULES_PER_FILE):
        chunk = [rule_yaml(i, rng) for i in range(start, min(n_rules, start + RULES_PER_FILE))]
        path = directory / f"rules-{start // RULES_PER_FILE:03d}.yaml"
        path.write_text("version: 1\nrules:\n" + "".join(chunk))
        files.append(path)
    return files


def policy_dir(n_rules: int) -> Path:
    return RESULTS / "policies" / f"{n_rules}"


def write_casbin(compiled: Any, directory: Path) -> tuple[Path, Path]:
    """``model.conf`` and ``policy.csv`` as ``authzguard compile`` writes them."""
    directory.mkdir(parents=True, exist_ok=True)
    model, rows = directory / "model.conf", directory / "policy.csv"
    model.write_text(compiled.casbin_model())
    rows.write_text(compiled.casbin_policy_csv())
    return model, rows


# -- timing ------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Per-call seconds, one figure per sample (a sample is ``loops`` calls).

    ``samples`` are CPU seconds of this process (``time.process_time``): on a shared machine
    wall time also counts the moments other processes hold the CPU. ``wall`` holds the
    wall-clock figures of the same samples.
    """

    samples: list[float]
    wall: list[float]
    loops: int
    calls: int = field(init=False)

    def __post_init__(self) -> None:
        self.calls = len(self.samples) * self.loops

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 0.99)

    def as_json(self) -> dict[str, Any]:
        return {
            "p50_s": self.p50,
            "p99_s": self.p99,
            "wall_p50_s": statistics.median(self.wall),
            "samples": len(self.samples),
            "loops_per_sample": self.loops,
            "calls": self.calls,
        }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


#: CPU time of one sample: long enough that the cold first calls after another engine's
#: sample (caches filled with its data) weigh little in the mean of the batch.
SAMPLE_S = 0.002


def batch_size(fn: Callable[[], object], target_s: float = SAMPLE_S) -> int:
    """How many calls of ``fn`` take about ``target_s`` of CPU, measured warm.

    The first call warms caches, as in a long-running process; then batches double until
    one takes at least a tenth of the target, and the count is scaled from that batch (a
    single call's time is too coarse and too cold to size a batch of microsecond calls).
    """
    cpu = time.process_time
    start = cpu()
    fn()
    if cpu() - start >= target_s:
        return 1  # a slow call (stock Enforcer at 10k rules): one per sample
    n = 1
    while True:
        start = cpu()
        for _ in range(n):
            fn()
        elapsed = cpu() - start
        if elapsed >= target_s / 10 or n >= 1 << 20:
            return max(1, round(n * target_s / elapsed)) if elapsed > 0 else n
        n *= 2


def time_call(
    fn: Callable[[], object],
    *,
    budget_s: float = 1.0,
    min_samples: int = 3,
    max_samples: int = 300,
) -> Timing:
    """Time ``fn`` in batches of about 2 ms, for ``budget_s`` of CPU (at least ``min_samples``).

    :func:`batch_size` warms caches and sizes the batches. A slow ``fn`` (a second per
    call) is called once per sample, ``min_samples`` times: its figure rests on a few
    calls, and the table says how many.
    """
    cpu, wall = time.process_time, time.perf_counter
    loops = batch_size(fn)
    samples: list[float] = []
    walls: list[float] = []
    spent = 0.0
    while len(samples) < max_samples and (len(samples) < min_samples or spent < budget_s):
        begin, begin_wall = cpu(), wall()
        for _ in range(loops):
            fn()
        elapsed = cpu() - begin
        walls.append((wall() - begin_wall) / loops)
        samples.append(elapsed / loops)
        spent += elapsed
    return Timing(samples, walls, loops)


def time_interleaved(
    fns: dict[Any, Callable[[], object]], *, budget_s: float, min_rounds: int = 5
) -> dict[Any, Timing]:
    """Time several functions by rounds, one ~2 ms sample of each per round.

    A burst of load from another process then lands on every function alike instead of
    on whichever was being timed, which keeps the ratios between them honest.
    """
    cpu, wall = time.process_time, time.perf_counter
    loops = {key: batch_size(fn) for key, fn in fns.items()}
    samples: dict[Any, list[float]] = {key: [] for key in fns}
    walls: dict[Any, list[float]] = {key: [] for key in fns}
    spent, rounds = 0.0, 0
    while rounds < min_rounds or spent < budget_s:
        for key, fn in fns.items():
            n = loops[key]
            begin, begin_wall = cpu(), wall()
            for _ in range(n):
                fn()
            elapsed = cpu() - begin
            walls[key].append((wall() - begin_wall) / n)
            samples[key].append(elapsed / n)
            spent += elapsed
        rounds += 1
    return {key: Timing(samples[key], walls[key], loops[key]) for key in fns}


# -- output ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import django

    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(value: float, *, precise: bool = False) -> str:
    """``1,234x``, ``12.3x``, ``1.23x``; ``precise`` gives 3 decimals below 10 (for targets)."""
    if precise and value < 10:
        return f"{value:.3f}x"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


@dataclass(frozen=True)
class Target:
    """One issue-11 target: what is compared, the figure, the bound, and whether it holds."""

    name: str
    figure: str
    bound: str
    passed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "figure": self.figure,
            "bound": self.bound,
            "passed": self.passed,
        }

    def line(self) -> str:
        return (
            f"{'PASS' if self.passed else 'MISS'}  {self.name}: {self.figure} (target {self.bound})"
        )


def print_targets(targets: Sequence[Target]) -> None:
    print("\nTargets")
    for target in targets:
        print("  " + target.line())
    sys.stdout.flush()
