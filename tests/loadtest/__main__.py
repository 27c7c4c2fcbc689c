"""``python -m tests.loadtest [--short] [--duration S]``: run, print the table, exit 0 if clean.

Exit status: 0 when the run ends with no error of any kind, 1 when it found errors,
3 when a binary it needs (initdb, pg_ctl, redis-server) is missing.
"""

from __future__ import annotations

import argparse
import sys

from tests.loadtest.report import table
from tests.loadtest.run import Options, execute
from tests.loadtest.services import MissingTool

MISSING = 3


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tests.loadtest", description=__doc__)
    parser.add_argument("--short", action="store_true",
                        help="the form `make test` runs under CI=true (~30 s)")  # fmt: skip
    parser.add_argument("--duration", type=float, help="seconds of load (default 120)")
    parser.add_argument("--threads", type=int, help="concurrent clients (default 4)")
    parser.add_argument("--users", type=int, help="accounts besides the admin (default 24)")
    parser.add_argument("--seed", type=int, default=14, help="the load's random seed")
    args = parser.parse_args(argv)
    options = Options(seed=args.seed)
    if args.short:
        options = Options(duration=24, threads=3, users=10, seed=args.seed, pg_down=1.5,
                          redis_pause=2.0)  # fmt: skip
    for name in ("duration", "threads", "users"):
        if getattr(args, name) is not None:
            setattr(options, name, getattr(args, name))
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    try:
        result = execute(options)
    except MissingTool as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return MISSING
    print(table(result, options))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
