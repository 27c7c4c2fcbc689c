"""List filtering against the same hand-written ``filter()`` (issue 12.4: at most 1.2x).

100,000 rows (tests/filterapp's ``Row``) in a SQLite file; the policy of
tests/filterapp/policies/rows.yaml. Each round lists one owner's rows twice, in turn:
through ``filter_for_subject`` (the subject known, the ``Q`` compiled, the query run
and its rows built) and through the ``filter()`` a developer would write for the same
rule set. The figure is the ratio of the medians. Results go to bench/results/filter.json.

    .venv/bin/python bench/bench_filter.py [--rows 100000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synthetic  # noqa: E402
from synthetic import Target  # noqa: E402

BOUND = 1.2
USERS = 100


def configure(scratch: Path) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="authzguard-bench-not-secret",
        USE_TZ=True,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(scratch / "f.db")}
        },
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "authzguard",
            "tests.filterapp",
        ],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        AUTHZGUARD_POLICY_PATHS=[ROOT / "tests" / "filterapp" / "policies" / "rows.yaml"],
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(rows: int) -> list[Any]:
    from django.contrib.auth.models import User

    from tests.filterapp.models import Row

    users = User.objects.bulk_create(User(username=f"u{i}") for i in range(USERS))
    names = ("a", "b", "hidden", None)
    Row.objects.bulk_create(
        (
            Row(owner=users[i % USERS], name=names[i % 7 % 4], count=i, flag=i % 3 == 0)
            for i in range(rows)
        ),
        batch_size=5000,
    )
    return list(User.objects.order_by("pk"))


def timed(run: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = run()
    return time.perf_counter() - start, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        configure(Path(scratch))
        from authzguard.filtering import filter_for_subject
        from authzguard.runtime import get_policy
        from authzguard.subjects import subject_for
        from tests.filterapp.models import Row

        users = populate(args.rows)
        policy = get_policy()
        owner = users[USERS // 2]
        subject = subject_for(owner, policy, kind="row", action="list")

        def filtered() -> int:
            queryset = filter_for_subject(policy, subject, "list", Row.objects.all(), "row")
            return len(list(queryset))

        def by_hand() -> int:
            queryset = Row.objects.filter(name__isnull=False, owner_id=owner.pk).exclude(
                name="hidden"
            )
            return len(list(queryset))

        # Alternate, so both see the same cache and machine load.
        policy_times, hand_times = [], []
        for _ in range(args.rounds):
            policy_times.append(timed(filtered))
            hand_times.append(timed(by_hand))
        ours = statistics.median(t for t, _ in policy_times)
        theirs = statistics.median(t for t, _ in hand_times)
        assert policy_times[0][1] == hand_times[0][1], "the two lists differ"
        listed = policy_times[0][1]
    ratio = ours / theirs
    target = Target(
        f"filter_queryset over {args.rows:,} rows vs the hand-written filter()",
        f"{ratio:.2f}x ({ours * 1000:.1f} ms vs {theirs * 1000:.1f} ms, {listed} rows listed)",
        f"<= {BOUND}x",
        ratio <= BOUND,
    )
    synthetic.write_results(
        "filter",
        {
            "elapsed_s": time.perf_counter() - started,
            "rows": args.rows,
            "ratio": ratio,
            "targets": [target.as_json()],
        },
    )
    synthetic.print_targets([target])
    return 0


if __name__ == "__main__":
    sys.exit(main())
