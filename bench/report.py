"""Every issue-11 target of the last ``make bench``, one PASS/MISS line each, with its figure.

Reads what the benchmark scripts wrote under bench/results/ (``decisions``, ``http``,
``load``, ``filter`` and ``equivalence``) and prints when each ran. A missed target is a figure to
record, not a failure: this exits 0 unless a result file is missing or unreadable.

    .venv/bin/python bench/report.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic
from synthetic import Target

SCRIPTS = ("decisions", "http", "load", "filter")


def main() -> int:
    targets: list[Target] = []
    missing = []
    print("\nissue 11 targets (make bench)")
    for name in SCRIPTS:
        path = synthetic.RESULTS / f"{name}.json"
        if not path.exists():
            missing.append(path.name)
            continue
        payload = json.loads(path.read_text())
        print(f"  {path.name}: {payload['when']}, {payload['elapsed_s']:.0f} s")
        targets += [Target(**t) for t in payload["targets"]]
    path = synthetic.RESULTS / "equivalence.json"
    if path.exists():
        figures = json.loads(path.read_text())
        print(f"  {path.name}: {figures['requests']:,} requests in {figures['elapsed_s']:.0f} s")
        targets.append(
            Target(
                "equivalence with stock pycasbin on the compiled files",
                f"{figures['mismatches']} mismatches in {figures['requests']:,} requests",
                "0",
                figures["mismatches"] == 0,
            )
        )
    else:
        missing.append(path.name)
    synthetic.print_targets(targets)
    met = sum(t.passed for t in targets)
    print(f"\n{met} of {len(targets)} targets met")
    if missing:
        print(f"missing results: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
