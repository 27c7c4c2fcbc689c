"""Decision latency, policy load time and memory: authzguard against pycasbin and django-rules.

Every engine decides the same two requests on the same synthetic policy (bench/synthetic.py)
at 10, 100, 1k and 10k rules over 100 resource kinds:

* authzguard's indexed evaluator: ``CompiledPolicy.decide``;
* stock pycasbin ``Enforcer`` on the compiled model and rows (``authzguard.enforcer``),
  request values built once outside the timed loop;
* pycasbin ``FastEnforcer`` on the same rows, its policy bucketed by (resource kind, action)
  (``FastModel`` with ``cache_key_order`` on those two fields, filtered per request the way
  ``FastEnforcer.enforce`` does);
* django-rules: one permission per (kind, action), ``~any(denies) & any(allows)``, each rule a
  predicate ``has one of the rule's roles & condition`` (the condition as a Python
  expression over the user and the object, as one would hand-write it), and, for the
  single-rule comparison, the one ownership predicate that decides the allow request.

Load time and memory are measured in fresh subprocesses (RSS from /proc, tracemalloc).
Every figure is printed with its ratio to a baseline measured in the same run.

    .venv/bin/python bench/bench_decisions.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic
from synthetic import fmt_ratio, fmt_time, verdict

ALLOW_SUBJECT_ID = 7
DENY_SUBJECT_ID = 8


@dataclass
class Requests:
    team: str
    subject_allow: Any
    subject_deny: Any
    resource_allow: Any
    resource_deny: Any


def choose_requests(compiled: Any) -> Requests:
    """The allow and deny requests, the same at every size.

    The subject is the team whose roles make the most rules of (kind005, update) apply in
    the 10k policy while none of them allows unconditionally: the deny request must then
    evaluate every applicable condition before it can deny (the slowest path).
    """
    from authzguard.policy import Resource, Subject

    bucket = [
        r
        for r in compiled.policy.rules
        if r.resource == synthetic.REQUEST_KIND and synthetic.REQUEST_ACTION in r.actions
    ]
    best: tuple[int, str] | None = None
    for t in range(synthetic.TEAMS):
        team = synthetic.team_name(t)
        roles = compiled.effective_roles(Subject(id=1, roles=frozenset({team}), authenticated=True))
        applying = [r for r in bucket if not roles.isdisjoint(r.subjects)]
        if any(r.effect == "allow" and r.when is None for r in applying):
            continue
        if best is None or len(applying) > best[0]:
            best = (len(applying), team)
    assert best is not None
    team = best[1]
    roles = frozenset({team})
    owned = {"owner": ALLOW_SUBJECT_ID, "id": 1, "status": "open", "tenant": "t9"}
    foreign = {"owner": ALLOW_SUBJECT_ID, "id": 1, "status": "archived", "tenant": "t9"}
    return Requests(
        team,
        Subject(id=ALLOW_SUBJECT_ID, username="u7", roles=roles, authenticated=True),
        Subject(id=DENY_SUBJECT_ID, username="u8", roles=roles, authenticated=True),
        Resource(synthetic.REQUEST_KIND, owned),
        Resource(synthetic.REQUEST_KIND, foreign),
    )


# -- engines ---------------------------------------------------------------------------------


def stock_enforcer(files: tuple[Path, Path]) -> Any:
    from authzguard.enforcer import load_files

    return load_files(*files)


def fast_enforcer(files: tuple[Path, Path]) -> Any:
    import casbin

    # p = sub, kind, act, ...: FastModel buckets the rows by (kind, act).
    return casbin.FastEnforcer(
        str(files[0]), str(files[1]), enable_log=False, cache_key_order=[1, 2]
    )


def fast_decide(enforcer: Any, values: tuple[Any, str, Any]) -> bool:
    from casbin.model import fast_policy_filter

    # What FastEnforcer.enforce does, keyed on the request's kind and action.
    with fast_policy_filter(enforcer.model.model["p"]["p"].policy, values[2].kind, values[1]):
        allowed, _ = enforcer.enforce_ex(*values)
    return bool(allowed)


def rules_ruleset(compiled: Any) -> Any:
    """django-rules permissions equivalent to the policy, one per (kind, action)."""
    import rules

    def role_predicate(names: frozenset[str]) -> Any:
        return rules.predicate(lambda user: not names.isdisjoint(user.roles))

    conditions: dict[str, Any] = {}

    def condition_predicate(text: str) -> Any:
        if text not in conditions:
            # The policy's condition language is a subset of Python expressions over
            # subject.<attr> and resource.<attr>: the hand-written predicate.
            fn = eval(f"lambda subject, resource: {text}", {})
            conditions[text] = rules.predicate(fn)
        return conditions[text]

    from authzguard.policy import conditions as cond

    buckets: dict[tuple[str, str], tuple[list[Any], list[Any]]] = {}
    for rule in compiled.policy.rules:
        pred = role_predicate(frozenset(rule.subjects))
        if rule.when is not None:
            pred = pred & condition_predicate(cond.to_text(rule.when.tree))
        for action in rule.actions:
            denies, allows = buckets.setdefault((rule.resource, action), ([], []))
            (denies if rule.effect == "deny" else allows).append(pred)
    ruleset = rules.RuleSet()
    for (kind, action), (denies, allows) in buckets.items():
        deny_any = _any(denies, rules)
        allow_any = _any(allows, rules)
        ruleset.add_rule(f"{kind}.{action}", ~deny_any & allow_any)
    return ruleset


def _any(preds: list[Any], rules: Any) -> Any:
    if not preds:
        return rules.always_false
    out = preds[0]
    for pred in preds[1:]:
        out = out | pred
    return out


def rules_user(compiled: Any, subject: Any) -> Any:
    # The user carries its effective roles, computed once (authzguard caches them too).
    return SimpleNamespace(
        id=subject.id, username=subject.username, roles=compiled.effective_roles(subject)
    )


def rules_object(resource: Any) -> Any:
    return SimpleNamespace(kind=resource.kind, **resource.attributes)


# -- decision latency ------------------------------------------------------------------------


def measure_size(
    compiled: Any, requests: Requests, quick: bool, fast_fns: dict[tuple[str, str, int], Any]
) -> dict[str, Any]:
    """Check every engine's answers, time stock Enforcer, and queue the fast engines.

    The fast engines (every one but stock Enforcer) go into ``fast_fns`` and are timed
    later, interleaved across every size (see ``synthetic.time_interleaved``).
    """
    import rules

    from authzguard.enforcer import request_values

    n_rules = len(compiled.policy.rules)
    action = synthetic.REQUEST_ACTION
    files = synthetic.write_casbin(compiled, n_rules)
    enforcer = stock_enforcer(files)
    fast = fast_enforcer(files)
    ruleset = rules_ruleset(compiled)
    perm = f"{synthetic.REQUEST_KIND}.{action}"
    is_owner = rules.predicate(lambda user, obj: obj.owner == user.id) & rules.is_authenticated
    # rules.is_authenticated reads user.is_authenticated.
    bucket = [
        r
        for r in compiled.policy.rules
        if r.resource == synthetic.REQUEST_KIND and action in r.actions
    ]
    roles = compiled.effective_roles(requests.subject_allow)
    applying = [r for r in bucket if not roles.isdisjoint(r.subjects)]

    # Stock Enforcer takes seconds per call at 10k rules: a bounded few calls there.
    slow_budget = 0.5 if quick else 1.5
    out: dict[str, Any] = {
        "rules": n_rules,
        "bucket_rules": len(bucket),
        "applicable_rules": len(applying),
        "cases": {},
    }
    for case, subject, resource in (
        ("allow", requests.subject_allow, requests.resource_allow),
        ("deny", requests.subject_deny, requests.resource_deny),
    ):
        expected = case == "allow"
        values = request_values(subject, action, resource)
        user = rules_user(compiled, subject)
        user.is_authenticated = True
        obj = rules_object(resource)
        answers = {
            "authzguard": compiled.decide(subject, action, resource).allowed,
            "casbin_enforcer": enforcer.enforce(*values),
            "casbin_fast_enforcer": fast_decide(fast, values),
            "django_rules": ruleset.test_rule(perm, user, obj),
        }
        wrong = {k: v for k, v in answers.items() if bool(v) is not expected}
        if wrong:
            raise SystemExit(f"{n_rules} rules, {case}: engines disagree with {expected}: {wrong}")
        timing = synthetic.time_call(
            lambda v=values: enforcer.enforce(*v), budget_s=slow_budget, min_samples=3
        )
        out["cases"][case] = {"casbin_enforcer": timing.as_json()}
        print(
            f"  {n_rules:>6} rules {case:5}: stock Enforcer {fmt_time(timing.p50)} "
            f"({timing.calls} calls)",
            flush=True,
        )
        fast_fns[("authzguard", case, n_rules)] = lambda s=subject, r=resource: compiled.decide(
            s, action, r
        )
        fast_fns[("casbin_fast_enforcer", case, n_rules)] = lambda v=values: fast_decide(fast, v)
        fast_fns[("django_rules", case, n_rules)] = lambda u=user, o=obj: ruleset.test_rule(
            perm, u, o
        )
        if case == "allow":
            fast_fns[("django_rules_single", case, n_rules)] = lambda u=user, o=obj: is_owner.test(
                u, o
            )
    return out


# -- load time and memory (subprocess) -------------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def probe(n_rules: int, what: str) -> dict[str, Any]:
    """In a fresh interpreter: load one policy the way its engine does, time it, weigh it.

    ``authzguard``: read the YAML files, check, compile; then tracemalloc weighs what a
    second compile of the same policy keeps (the index alone). ``casbin``: a stock
    ``Enforcer`` from the ``model.conf``/``policy.csv`` that ``authzguard compile`` writes.
    """
    import tracemalloc

    from authzguard.enforcer import load_files
    from authzguard.policy import compile_policy, load_policy

    files = synthetic.write_policy(n_rules, synthetic.policy_dir(n_rules))
    casbin_files = synthetic.policy_dir(n_rules) / "casbin"
    gc.collect()
    rss_before = _rss_bytes()
    keep: list[Any] = []
    t0 = time.perf_counter()
    if what == "authzguard":
        policy = load_policy(files)
        t1 = time.perf_counter()
        keep.append(compile_policy(policy))
    else:
        t1 = t0
        keep.append(load_files(casbin_files / "model.conf", casbin_files / "policy.csv"))
    t2 = time.perf_counter()
    gc.collect()
    result: dict[str, Any] = {
        "load_s": t1 - t0,
        "build_s": t2 - t1,
        "total_s": t2 - t0,
        "rss_delta": _rss_bytes() - rss_before,
    }
    tracemalloc.start()
    if what == "authzguard":
        again = compile_policy(policy)
    else:
        again = load_files(casbin_files / "model.conf", casbin_files / "policy.csv")
    gc.collect()
    result["traced_current"], result["traced_peak"] = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del again, keep
    return result


def run_probe(n_rules: int, what: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--probe", str(n_rules), what]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_probes(specs: dict[str, tuple[int, str]], runs: int) -> dict[str, dict[str, Any]]:
    """Each probe ``runs`` times in fresh interpreters, in turns; the median of each figure
    (with every run's total kept), so one slow moment of a shared machine does not decide."""
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in specs}
    for _ in range(runs):
        for name, (n_rules, what) in specs.items():
            samples[name].append(run_probe(n_rules, what))
    out: dict[str, dict[str, Any]] = {}
    for name, runs_ in samples.items():
        out[name] = {key: statistics.median(r[key] for r in runs_) for key in runs_[0]}
        out[name]["runs_total_s"] = [r["total_s"] for r in runs_]
    return out


def compile_time(policy: Any, repeat: int) -> list[float]:
    """Compile only (the policy already loaded): what a reload spends building the index."""
    from authzguard.policy import compile_policy

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        compile_policy(policy)
        times.append(time.perf_counter() - t)
    return times


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller time budgets")
    parser.add_argument("--probe", nargs=2, metavar=("RULES", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(int(args.probe[0]), args.probe[1])))
        return 0

    started = time.perf_counter()
    print("Decision latency (p50 of batches; ratios against authzguard in this run)", flush=True)
    # The requests are chosen on the largest policy, then asked at every size.
    compiled = {n: synthetic.load_compiled(n) for n in synthetic.SIZES}
    requests = choose_requests(compiled[10_000])
    fast_fns: dict[tuple[str, str, int], Any] = {}
    sizes = {n: measure_size(compiled[n], requests, args.quick, fast_fns) for n in synthetic.SIZES}
    print("  authzguard, FastEnforcer and django-rules, interleaved across sizes...", flush=True)
    timings = synthetic.time_interleaved(fast_fns, budget_s=4.0 if args.quick else 15.0)
    for (engine, case, n), timing in timings.items():
        sizes[n]["cases"][case][engine] = timing.as_json()

    print("Load, compile and memory (fresh subprocesses)", flush=True)
    load: dict[str, Any] = {
        **run_probes(
            {
                "authzguard_10k": (10_000, "authzguard"),
                "authzguard_10": (10, "authzguard"),
                "casbin_10k": (10_000, "casbin"),
            },
            runs=3 if args.quick else 7,
        ),
        "compile_only_10k_s": compile_time(compiled[10_000].policy, 2 if args.quick else 5),
        "compile_only_10_s": compile_time(compiled[10].policy, 2 if args.quick else 5),
    }
    del compiled
    payload = {
        "requests": {
            "kind": synthetic.REQUEST_KIND,
            "action": synthetic.REQUEST_ACTION,
            "subject_roles": [requests.team],
        },
        "sizes": {str(n): v for n, v in sizes.items()},
        "load": load,
        "elapsed_s": time.perf_counter() - started,
    }
    path = synthetic.write_results("decisions", payload)
    report(payload)
    print(f"\nwritten {path.relative_to(synthetic.REPO)} in {payload['elapsed_s']:.0f} s")
    return 0


def report(payload: dict[str, Any]) -> None:
    sizes = payload["sizes"]
    base10 = sizes["10"]["cases"]
    rows = []
    for n, data in sizes.items():
        for case, timings in data["cases"].items():
            ours = timings["authzguard"]["p50_s"]
            row = [
                f"{int(n):,}",
                case,
                f"{data['applicable_rules']}/{data['bucket_rules']}",
                f"{fmt_time(ours)} ({fmt_ratio(ours / base10[case]['authzguard']['p50_s'])})",
            ]
            for name in ("casbin_enforcer", "casbin_fast_enforcer", "django_rules"):
                t = timings[name]
                calls = f", {t['calls']} calls" if t["calls"] < 100 else ""
                row.append(f"{fmt_time(t['p50_s'])} ({fmt_ratio(t['p50_s'] / ours)}{calls})")
            single = timings.get("django_rules_single")
            row.append(
                f"{fmt_time(single['p50_s'])} ({fmt_ratio(single['p50_s'] / ours)})"
                if single
                else "-"
            )
            rows.append(row)
    synthetic.print_table(
        "Decision latency, p50 (authzguard: ratio to its 10-rule figure; others: ratio to "
        "authzguard at the same size, i.e. how many times slower)",
        [
            "rules",
            "case",
            "applying/bucket",
            "authzguard",
            "casbin Enforcer",
            "casbin FastEnforcer",
            "django-rules (same policy)",
            "django-rules (one predicate)",
        ],
        rows,
    )

    load = payload["load"]
    ours, ours10, casbin = load["authzguard_10k"], load["authzguard_10"], load["casbin_10k"]
    mb = 1024 * 1024
    compile10k = min(load["compile_only_10k_s"])
    compile10 = min(load["compile_only_10_s"])
    rows = [
        [
            f"load: YAML read + checks + compile, 10k rules (median of {len(ours['runs_total_s'])}"
            f" fresh interpreters: {fmt_time(min(ours['runs_total_s']))} to "
            f"{fmt_time(max(ours['runs_total_s']))})",
            fmt_time(ours["total_s"]),
            f"{fmt_ratio(ours['total_s'] / ours10['total_s'])} of 10 rules "
            f"({fmt_time(ours10['total_s'])}); {fmt_ratio(ours['total_s'] / casbin['total_s'])} "
            f"of stock Enforcer from model.conf/policy.csv ({fmt_time(casbin['total_s'])})",
        ],
        [
            "  of which YAML read + checks",
            fmt_time(ours["load_s"]),
            f"{fmt_ratio(ours['load_s'] / ours['total_s'])} of the load",
        ],
        [
            "  of which compile (the index)",
            fmt_time(ours["build_s"]),
            f"{fmt_ratio(ours['build_s'] / casbin['total_s'])} of the stock Enforcer load",
        ],
        [
            "compile alone, 10k rules (best of runs, in process)",
            fmt_time(compile10k),
            f"{fmt_ratio(compile10k / compile10)} of 10 rules ({fmt_time(compile10)})",
        ],
        [
            "RSS growth: 10k rules loaded + compiled",
            f"{ours['rss_delta'] / mb:.1f} MB",
            f"{fmt_ratio(ours['rss_delta'] / max(casbin['rss_delta'], 1))} of stock Enforcer "
            f"({casbin['rss_delta'] / mb:.1f} MB)",
        ],
        [
            "tracemalloc: what the compiled index keeps, 10k",
            f"{ours['traced_current'] / mb:.1f} MB",
            f"{fmt_ratio(ours['traced_current'] / casbin['traced_current'])} of stock Enforcer "
            f"({casbin['traced_current'] / mb:.1f} MB)",
        ],
        [
            "tracemalloc: peak while compiling, 10k",
            f"{ours['traced_peak'] / mb:.1f} MB",
            f"{fmt_ratio(ours['traced_peak'] / casbin['traced_peak'])} of stock Enforcer "
            f"({casbin['traced_peak'] / mb:.1f} MB)",
        ],
    ]
    synthetic.print_table("Policy load and memory at 10k rules", ["figure", "value", "ratio"], rows)

    s10k, s10 = sizes["10000"]["cases"], sizes["10"]["cases"]
    targets = []
    for case in ("allow", "deny"):
        ours10k = s10k[case]["authzguard"]["p50_s"]
        targets += [
            [f"p50 at 10k ≤ 5 µs ({case})", fmt_time(ours10k), verdict(ours10k <= 5e-6)],
            [
                f"10k within 1.5x of 10 rules ({case})",
                fmt_ratio(ours10k / s10[case]["authzguard"]["p50_s"], precise=True),
                verdict(ours10k / s10[case]["authzguard"]["p50_s"] <= 1.5),
            ],
            [
                f"≥ 1000x faster than Enforcer at 10k ({case})",
                fmt_ratio(s10k[case]["casbin_enforcer"]["p50_s"] / ours10k, precise=True),
                verdict(s10k[case]["casbin_enforcer"]["p50_s"] / ours10k >= 1000),
            ],
            [
                f"≥ 100x faster than FastEnforcer at 10k ({case})",
                fmt_ratio(s10k[case]["casbin_fast_enforcer"]["p50_s"] / ours10k, precise=True),
                verdict(s10k[case]["casbin_fast_enforcer"]["p50_s"] / ours10k >= 100),
            ],
            [
                f"faster than django-rules, same policy, 10k ({case})",
                fmt_ratio(s10k[case]["django_rules"]["p50_s"] / ours10k, precise=True),
                verdict(s10k[case]["django_rules"]["p50_s"] > ours10k),
            ],
        ]
    single = s10k["allow"]["django_rules_single"]["p50_s"]
    ours_allow = s10k["allow"]["authzguard"]["p50_s"]
    targets += [
        [
            "faster than one django-rules predicate (allow, 10k)",
            fmt_ratio(single / ours_allow, precise=True),
            verdict(single > ours_allow),
        ],
        [
            "load YAML + compile 10k ≤ 0.5 s",
            fmt_time(ours["total_s"]),
            verdict(ours["total_s"] <= 0.5),
        ],
        ["compile 10k ≤ 0.5 s", fmt_time(compile10k), verdict(compile10k <= 0.5)],
        [
            "memory for 10k ≤ 50 MB (RSS growth)",
            f"{ours['rss_delta'] / mb:.1f} MB",
            verdict(ours["rss_delta"] <= 50 * mb),
        ],
    ]
    synthetic.print_table(
        "Targets (ratios: how many times faster authzguard is, or 10k over 10 rules)",
        ["target", "measured", ""],
        targets,
    )


if __name__ == "__main__":
    sys.exit(main())
