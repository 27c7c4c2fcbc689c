"""Decision latency on the diverse workload (issue 11), and stock pycasbin on the same files.

The policy and the requests come from bench/diverse.py: 10k rules over 200 kinds and the
same density at 1k rules (20 kinds), 60 roles with inheritance, requests drawn from
thousands of distinct role sets. Both policies are written to disk, linted (any error
stops the run) and compiled through the public API (``lint_paths``, ``compile_policy``).

* authzguard: ``CompiledPolicy.decide`` on the request pool, one request after the other,
  the two sizes timed interleaved in batches of about 2 ms of CPU (see synthetic.py);
  p50 per call.
* stock pycasbin: ``casbin.Enforcer`` on the ``model.conf``/``policy.csv`` that the
  compiler writes for the 10k-rule policy, a few requests of the same pool (it takes
  seconds per call), each answer checked against authzguard's.

    .venv/bin/python bench/bench_decisions.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import diverse
import synthetic
from synthetic import Target, fmt_ratio, fmt_time

SIZES = (1_000, 10_000)
#: Requests in each pool, and the distinct role sets they are drawn from.
POOL_REQUESTS = 20_000
ROLE_SETS = 4_000


def load(n_rules: int) -> Any:
    """Write, lint and compile the diverse policy; any lint error stops the benchmark."""
    from authzguard.policy import compile_policy, lint_paths

    files = diverse.write_policy(n_rules, diverse.policy_dir(n_rules))
    policy, findings = lint_paths(files)
    if policy is None:
        raise SystemExit("\n".join(f.format() for f in findings[:10]))
    if findings:
        print(f"  {n_rules} rules: {len(findings)} lint warnings", flush=True)
    return compile_policy(policy), len(findings)


def density(compiled: Any) -> float:
    """Rules per (kind, action): how many rules a request's bucket holds on average."""
    policy = compiled.policy
    pairs = sum(len(kind.actions) for kind in policy.resources.values())
    return sum(len(rule.actions) for rule in policy.rules) / pairs


def stepper(
    decide: Callable[..., object], pool: list[tuple[Any, str, Any]]
) -> Callable[[], object]:
    """One call decides the next request of the pool (round and round)."""
    following = itertools.cycle(pool).__next__

    def step() -> object:
        subject, action, resource = following()
        return decide(subject, action, resource)

    return step


def nothing(subject: Any, action: str, resource: Any) -> None:
    return None


def measure_ours(compiled: dict[int, Any], quick: bool) -> dict[str, Any]:
    pools = {n: diverse.request_pool(n, POOL_REQUESTS, ROLE_SETS) for n in SIZES}
    fns: dict[str, Callable[[], object]] = {}
    out: dict[str, Any] = {}
    for n in SIZES:
        pool, decide = pools[n], compiled[n].decide
        # One pass first, as a long-running process has seen such requests before.
        allowed = sum(bool(decide(*request)) for request in pool)
        fns[str(n)] = stepper(decide, pool)
        out[str(n)] = {
            "kinds": diverse.kinds_for(n),
            "rules_per_kind_action": density(compiled[n]),
            "requests": len(pool),
            "allowed": allowed,
            "role_sets": len({(s.roles, s.authenticated) for s, _, _ in pool}),
            "kind_action_role_sets": len(
                {(r.kind, a, s.roles, s.authenticated) for s, a, r in pool}
            ),
        }
    # What the harness costs per call (cycling the pool, unpacking), for reference.
    fns["harness"] = stepper(nothing, pools[SIZES[0]])
    print("  authzguard at 1k and 10k rules, interleaved...", flush=True)
    timings = synthetic.time_interleaved(fns, budget_s=4.0 if quick else 20.0)
    for key, timing in timings.items():
        out.setdefault(key, {}).update(timing.as_json())
    return out


def measure_stock(compiled: Any, n_rules: int, calls: int) -> dict[str, Any]:
    """Stock ``Enforcer`` from the compiled files, on the first ``calls`` signed-in requests."""
    from authzguard.enforcer import load_files, request_values

    directory = diverse.policy_dir(n_rules) / "casbin"
    model, rows = synthetic.write_casbin(compiled, directory)
    started = time.process_time()
    enforcer = load_files(model, rows)
    load_s = time.process_time() - started
    pool = diverse.request_pool(n_rules, POOL_REQUESTS, ROLE_SETS)
    # Signed-in subjects: an anonymous one meeting a condition on subject.id is an error
    # (a deny) in both engines, which would time the error path.
    chosen = [r for r in pool if r[0].authenticated and not compiled.decide(*r).error][:calls]
    times = []
    for subject, action, resource in chosen:
        values = request_values(subject, action, resource)
        begin = time.process_time()
        theirs = enforcer.enforce(*values)
        times.append(time.process_time() - begin)
        ours = compiled.decide(subject, action, resource).allowed
        if bool(theirs) is not ours:
            raise SystemExit(
                f"stock Enforcer says {theirs}, authzguard {ours}: {subject} {action} {resource}"
            )
        print(
            f"  stock Enforcer, {n_rules} rules: {fmt_time(times[-1])} ({'allow' if ours else 'deny'})",
            flush=True,
        )
    return {
        "p50_s": statistics.median(times),
        "calls": len(times),
        "per_call_s": times,
        "load_s": load_s,
        "rows": sum(1 for _ in rows.open()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller time budgets")
    args = parser.parse_args()
    started = time.perf_counter()
    print("Decisions on the diverse workload (bench/diverse.py)", flush=True)
    compiled: dict[int, Any] = {}
    warnings: dict[str, int] = {}
    for n in SIZES:
        compiled[n], warnings[str(n)] = load(n)
    ours = measure_ours(compiled, args.quick)
    stock = measure_stock(compiled[10_000], 10_000, calls=2 if args.quick else 5)
    del compiled
    payload: dict[str, Any] = {
        "workload": {"pool_requests": POOL_REQUESTS, "role_sets": ROLE_SETS, "seed": diverse.SEED},
        "lint_warnings": warnings,
        "authzguard": ours,
        "casbin_enforcer_10000": stock,
        "elapsed_s": time.perf_counter() - started,
    }
    payload["targets"] = [t.as_json() for t in targets(payload)]
    path = synthetic.write_results("decisions", payload)
    report(payload)
    print(f"\nwritten {path.relative_to(synthetic.REPO)} in {payload['elapsed_s']:.0f} s")
    return 0


def targets(payload: dict[str, Any]) -> list[Target]:
    ours = payload["authzguard"]
    p10k, p1k = ours["10000"]["p50_s"], ours["1000"]["p50_s"]
    stock = payload["casbin_enforcer_10000"]["p50_s"]
    return [
        Target(
            "decision p50 at 10k rules, diverse workload", fmt_time(p10k), "≤ 5 µs", p10k <= 5e-6
        ),
        Target(
            "decision p50, 10k over 1k rules of the same density",
            fmt_ratio(p10k / p1k, precise=True),
            "≤ 1.5x",
            p10k / p1k <= 1.5,
        ),
        Target(
            "stock pycasbin Enforcer over authzguard, 10k rules",
            f"{fmt_ratio(stock / p10k)} ({payload['casbin_enforcer_10000']['calls']} calls)",
            "≥ 1000x",
            stock / p10k >= 1000,
        ),
    ]


def report(payload: dict[str, Any]) -> None:
    ours = payload["authzguard"]
    rows = []
    for n in SIZES:
        data = ours[str(n)]
        rows.append(
            [
                f"{n:,}",
                str(data["kinds"]),
                f"{data['rules_per_kind_action']:.1f}",
                f"{data['role_sets']:,} / {data['kind_action_role_sets']:,}",
                f"{data['allowed'] / data['requests']:.0%}",
                fmt_time(data["p50_s"]),
                fmt_time(data["p99_s"]),
                fmt_ratio(data["p50_s"] / ours["1000"]["p50_s"], precise=True),
                fmt_time(data["wall_p50_s"]),
            ]
        )
    synthetic.print_table(
        f"authzguard decisions, p50 per call (pool of {POOL_REQUESTS:,} requests; harness "
        f"alone {fmt_time(ours['harness']['p50_s'])} per call, included)",
        [
            "rules",
            "kinds",
            "rules per (kind, action)",
            "role sets / (kind, action, role set)",
            "allowed",
            "p50",
            "p99 (of samples)",
            "ratio to 1k",
            "wall p50",
        ],
        rows,
    )
    stock = payload["casbin_enforcer_10000"]
    synthetic.print_table(
        "stock pycasbin Enforcer, same compiled files, 10k rules",
        ["rows", "load", "calls", "p50 per call", "ratio to authzguard"],
        [
            [
                f"{stock['rows']:,}",
                fmt_time(stock["load_s"]),
                str(stock["calls"]),
                fmt_time(stock["p50_s"]),
                fmt_ratio(stock["p50_s"] / ours["10000"]["p50_s"]),
            ]
        ],
    )
    synthetic.print_targets([Target(**t) for t in payload["targets"]])


if __name__ == "__main__":
    sys.exit(main())
