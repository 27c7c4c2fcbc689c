"""Lint time against policy size for the loader's generated worst cases.

Each generator of ``tests/policy_worst_cases.py`` (wide diamonds, long chains, cycles,
fans, typos, many denies, many rules) runs at growing scales up to the 1 MiB size limit.
For each file: the size, a bare ``yaml.load(..., Loader=CSafeLoader)`` of the same text,
``lint_paths`` plus ``compile_policy`` when the policy is valid, and their ratio (best
of three runs each). The target is a ratio of about 1.5 or less, flat as the size grows.

    .venv/bin/python bench/bench_lint_worst_cases.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic
import yaml

from authzguard.policy import compile_policy, lint_paths
from authzguard.policy.source import DEFAULT_MAX_BYTES
from tests import policy_worst_cases as worst

#: Scales per generator, smallest first; each stops before the size limit.
SCALES: dict[str, tuple[Callable[[int], str], tuple[int, ...]]] = {
    "layers (10 x n, each inheriting the n below)": (worst.layers, (8, 20, 40, 80, 100)),
    "chain of n roles": (worst.chain, (1_000, 5_000, 20_000, 40_000)),
    "cycle of n roles + a 60-clique": (worst.cycle, (1_000, 5_000, 20_000, 40_000)),
    "fan: n roles -> hub -> n leaves": (worst.fan, (300, 1_000, 3_000, 6_000)),
    "fan, no shared sets": (
        lambda n: worst.fan(n, shared=False),
        (300, 1_000, 3_000, 6_000),
    ),
    "n typos against 200 roles": (worst.typos, (1_000, 3_000, 10_000)),
    "n allows + n denies": (worst.denies, (1_000, 3_000, 5_000)),
    "n rules": (worst.rules, (1_000, 5_000, 9_000)),
}

_names = itertools.count()


def best_of(runs: int, call: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def measure(text: str, directory: Path, runs: int) -> tuple[float, float, str]:
    bare = best_of(runs, lambda: yaml.load(text, Loader=yaml.CSafeLoader))
    outcome = ""

    def lint() -> None:
        nonlocal outcome
        path = directory / f"p{next(_names)}.yaml"  # a new name: no remembered document
        path.write_text(text)
        policy, findings = lint_paths([path])
        if policy is not None:
            compile_policy(policy)
        codes = sorted({f.code for f in findings if f.severity == "error"})
        outcome = "compiled" if policy is not None else "refused " + ",".join(codes)

    return bare, best_of(runs, lint), outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the two smallest scales only")
    args = parser.parse_args()
    rows: list[list[str]] = []
    results: list[dict[str, object]] = []
    worst_ratio = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for label, (generate, scales) in SCALES.items():
            for n in scales[:2] if args.quick else scales:
                text = generate(n)
                if len(text.encode()) > DEFAULT_MAX_BYTES:
                    break
                bare, spent, outcome = measure(text, Path(tmp), 3)
                ratio = spent / bare
                worst_ratio = max(worst_ratio, ratio)
                rows.append(
                    [
                        label,
                        f"{n:,}",
                        f"{len(text) / 1024:,.0f} KB",
                        synthetic.fmt_time(bare),
                        synthetic.fmt_time(spent),
                        synthetic.fmt_ratio(ratio),
                        outcome,
                    ]
                )
                results.append(
                    {
                        "case": label,
                        "n": n,
                        "bytes": len(text),
                        "yaml_load_s": bare,
                        "lint_compile_s": spent,
                        "ratio": ratio,
                        "outcome": outcome,
                    }
                )
    synthetic.print_table(
        "Lint + compile of generated worst cases against a bare CSafeLoader yaml.load",
        ["case", "n", "size", "yaml.load", "lint+compile", "ratio", "outcome"],
        rows,
    )
    print(f"\nlargest ratio: {synthetic.fmt_ratio(worst_ratio)}")
    path = synthetic.write_results("lint_worst_cases", {"cases": results})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
