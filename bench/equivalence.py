"""Equivalence at scale (issue 6): 100k random requests, indexed engine vs stock pycasbin.

Each worker process runs seeded chunks of ``tests/test_policy_equivalence.py``'s run
(random policies written as YAML, compiled with ``authzguard compile``, loaded unchanged
into ``casbin.Enforcer``). Prints the counts and the time taken; exits 1 on any mismatch.

    .venv/bin/python bench/equivalence.py [--n 100000] [--seed 20261122] [--jobs 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from authzguard.progress import progress  # noqa: E402
from tests.policy_gen import Stats, equivalence_run  # noqa: E402

CHUNK = 2500  # requests per chunk (one seed each)
PER_POLICY = 250  # requests per random policy


def _chunk(args: tuple[int, int]) -> Stats:
    seed, count = args
    return equivalence_run(seed, count, n_policies=max(1, count // PER_POLICY))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="requests in total")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    chunks = [(args.seed + i, CHUNK) for i in range(args.n // CHUNK)]
    if args.n % CHUNK:
        chunks.append((args.seed + len(chunks), args.n % CHUNK))
    started = time.perf_counter()
    total = Stats()
    with (
        ProcessPoolExecutor(max_workers=args.jobs) as pool,
        progress("equivalence", total=args.n, unit="requests") as advance,
    ):
        for (_, size), stats in zip(chunks, pool.map(_chunk, chunks), strict=True):
            total.merge(stats)
            advance(size)
    elapsed = time.perf_counter() - started

    figures = {
        "requests": total.requests,
        "policies": total.policies,
        "well_typed": total.well_typed,
        "allowed": total.allowed,
        "denied": total.denied,
        "casbin_errors": total.casbin_errors,
        "type_refusals": total.type_refusals,
        "mismatches": len(total.mismatches),
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(total.requests / elapsed, 1) if elapsed else None,
        "jobs": args.jobs,
        "seed": args.seed,
    }
    width = max(len(k) for k in figures)
    print("equivalence: indexed engine vs stock pycasbin on compiled files")
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    for mismatch in total.mismatches[:3]:
        print("\nMISMATCH " + mismatch, file=sys.stderr)
    return 1 if total.mismatches or total.requests != args.n else 0


if __name__ == "__main__":
    sys.exit(main())
