"""Policy load at 10k rules against a bare libyaml read of the same files (issue 11).

For each 10k-rule policy (the diverse one of bench/diverse.py, and the per-request one of
bench/synthetic.py), written as the benchmarks split it (``RULES_PER_FILE`` rules a file),
fresh interpreters take turns:

* ``yaml``: ``yaml.load(data, Loader=yaml.CSafeLoader)`` of every file, nothing else;
* ``authzguard``: ``compile_policy(load_policy(files))``, what a process does before its
  first decision (the time of ``load_policy`` alone is kept too).

Both import the same modules before the clock starts (PyYAML and ``authzguard.policy``),
and leave the garbage collector as production has it: enabled, default thresholds (the
probe records both). Times are CPU time of the probe process; wall time is kept too.
The figure is the median of the turns.

    .venv/bin/python bench/bench_load.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import diverse
import synthetic
from synthetic import Target, fmt_ratio, fmt_time

N_RULES = 10_000
LIMIT = 1.5


def policies() -> dict[str, list[Path]]:
    """The policy files of each measured policy, written before any clock starts."""
    return {
        "diverse": diverse.write_policy(N_RULES, diverse.policy_dir(N_RULES)),
        "per-request": synthetic.write_policy(N_RULES, synthetic.policy_dir(N_RULES)),
    }


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def probe(what: str, files: list[Path]) -> dict[str, Any]:
    """In a fresh interpreter: read the files one way, and time it."""
    import yaml

    from authzguard.policy import compile_policy, load_policy

    gc_state = {"enabled": gc.isenabled(), "threshold": list(gc.get_threshold())}
    rss = _rss_bytes()
    cpu, wall = time.process_time, time.perf_counter
    c0, w0 = cpu(), wall()
    if what == "yaml":
        kept: Any = [yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader) for path in files]
        c1 = c0
    else:
        policy = load_policy(files)
        c1 = cpu()
        kept = compile_policy(policy)
    c2, w2 = cpu(), wall()
    result = {"cpu_s": c2 - c0, "wall_s": w2 - w0, "rss_delta": _rss_bytes() - rss, "gc": gc_state}
    if what != "yaml":
        result["load_policy_cpu_s"] = c1 - c0
    del kept
    return result


def run_probe(what: str, files: list[Path]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--probe", what, *map(str, files)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(files: dict[str, list[Path]], turns: int) -> dict[str, Any]:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {"yaml": [], "authzguard": []} for name in files
    }
    for turn in range(turns):
        for name, paths in files.items():
            # Alternate which goes first, so neither always follows the other.
            order = ("yaml", "authzguard") if turn % 2 == 0 else ("authzguard", "yaml")
            for what in order:
                runs[name][what].append(run_probe(what, paths))
    out: dict[str, Any] = {}
    for name, by_what in runs.items():
        yaml_runs, ours = by_what["yaml"], by_what["authzguard"]
        out[name] = {
            "files": len(files[name]),
            "bytes": sum(p.stat().st_size for p in files[name]),
            "yaml_cpu_s": statistics.median(r["cpu_s"] for r in yaml_runs),
            "authzguard_cpu_s": statistics.median(r["cpu_s"] for r in ours),
            "load_policy_cpu_s": statistics.median(r["load_policy_cpu_s"] for r in ours),
            "yaml_wall_s": statistics.median(r["wall_s"] for r in yaml_runs),
            "authzguard_wall_s": statistics.median(r["wall_s"] for r in ours),
            "authzguard_rss_delta": statistics.median(r["rss_delta"] for r in ours),
            "yaml_runs_cpu_s": [r["cpu_s"] for r in yaml_runs],
            "authzguard_runs_cpu_s": [r["cpu_s"] for r in ours],
            "gc": ours[0]["gc"],
        }
        print(
            f"  {name}: yaml {fmt_time(out[name]['yaml_cpu_s'])}, authzguard "
            f"{fmt_time(out[name]['authzguard_cpu_s'])} (median of {turns})",
            flush=True,
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 turns instead of 7")
    parser.add_argument("--probe", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe[0], [Path(p) for p in args.probe[1:]])))
        return 0
    started = time.perf_counter()
    turns = 3 if args.quick else 7
    print(f"Load of {N_RULES:,} rules, fresh interpreters in turns ({turns} each)", flush=True)
    payload: dict[str, Any] = {
        "rules": N_RULES,
        "turns": turns,
        "policies": measure(policies(), turns),
    }
    payload["elapsed_s"] = time.perf_counter() - started
    payload["targets"] = [t.as_json() for t in targets(payload)]
    path = synthetic.write_results("load", payload)
    report(payload)
    print(f"\nwritten {path.relative_to(synthetic.REPO)} in {payload['elapsed_s']:.0f} s")
    return 0


def targets(payload: dict[str, Any]) -> list[Target]:
    out = []
    for name, data in payload["policies"].items():
        ratio = data["authzguard_cpu_s"] / data["yaml_cpu_s"]
        out.append(
            Target(
                f"load + compile of 10k rules ({name} policy) over a bare CSafeLoader read",
                f"{fmt_ratio(ratio, precise=True)} ({fmt_time(data['authzguard_cpu_s'])} / "
                f"{fmt_time(data['yaml_cpu_s'])})",
                f"≤ {LIMIT}x",
                ratio <= LIMIT,
            )
        )
    return out


def report(payload: dict[str, Any]) -> None:
    rows = []
    for name, data in payload["policies"].items():
        yaml_s, ours = data["yaml_cpu_s"], data["authzguard_cpu_s"]
        runs = data["authzguard_runs_cpu_s"]
        rows.append(
            [
                f"{name} ({data['files']} files, {data['bytes'] / 1e6:.1f} MB)",
                f"{fmt_time(yaml_s)} ({fmt_time(min(data['yaml_runs_cpu_s']))} to "
                f"{fmt_time(max(data['yaml_runs_cpu_s']))})",
                f"{fmt_time(ours)} ({fmt_time(min(runs))} to {fmt_time(max(runs))})",
                fmt_ratio(ours / yaml_s, precise=True),
                f"{fmt_time(data['load_policy_cpu_s'])} "
                f"({fmt_ratio(data['load_policy_cpu_s'] / yaml_s, precise=True)})",
                f"{data['authzguard_rss_delta'] / 2**20:.1f} MB",
                f"{fmt_time(data['yaml_wall_s'])} / {fmt_time(data['authzguard_wall_s'])}",
            ]
        )
    gc_state = next(iter(payload["policies"].values()))["gc"]
    synthetic.print_table(
        f"Load of {payload['rules']:,} rules, CPU time, median of {payload['turns']} fresh "
        f"interpreters (range); gc enabled={gc_state['enabled']}, thresholds {gc_state['threshold']}",
        [
            "policy",
            "bare yaml.load (CSafeLoader)",
            "load_policy + compile_policy",
            "ratio",
            "load_policy alone (ratio)",
            "RSS growth",
            "wall (yaml / ours)",
        ],
        rows,
    )
    synthetic.print_targets([Target(**t) for t in payload["targets"]])


if __name__ == "__main__":
    sys.exit(main())
