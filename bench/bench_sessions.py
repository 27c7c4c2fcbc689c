"""Benchmark: find and end one user's sessions, by decoding every session vs the index.

Standalone: configures Django itself (SQLite by default, ``--database postgres`` for the
local PostgreSQL), creates ``--sessions`` sessions across many users in a scratch database,
then times, for users holding the same number of sessions:

* the decode-everything scan public snippets use (iterate ``Session`` objects,
  ``get_decoded()``, compare ``_auth_user_id`` with ``str(pk)``, delete the matches);
* ``authzguard.sessions.purge_user_sessions`` (index lookup + delete).

It also times the purge with the store at a tenth of its size and for users holding 1, 10
and 100 sessions, to show the purge follows the user's sessions, not the store. Results are
printed and written to ``bench/results/sessions.json``.

    python bench/bench_sessions.py [--sessions 100000] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SESSIONS_PER_USER = 10


def configure(database: str, scratch: Path) -> None:
    import django
    from django.conf import settings

    if database == "postgres":
        db = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "authzguard_bench",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
        }
    else:
        # A file, as in production; create_test_db() below makes it test_<name>.
        db = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(scratch / "bench.sqlite3"),
            "TEST": {"NAME": str(scratch / "test_bench.sqlite3")},
        }
    settings.configure(
        SECRET_KEY="authzguard-bench-not-secret",
        USE_TZ=True,
        DATABASES={"default": db},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "authzguard",
        ],
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


class Store:
    """Creates users and their sessions in bulk, the way login() + the index would."""

    def __init__(self) -> None:
        from django.contrib.sessions.backends.db import SessionStore

        self.encoder = SessionStore()
        self.created = 0
        self.users = 0

    def add_users(self, counts: list[int]) -> list[int]:
        """One user per entry, with that many sessions; returns their primary keys."""
        from datetime import timedelta

        from django.contrib.auth.models import User
        from django.contrib.sessions.backends.base import VALID_KEY_CHARS
        from django.contrib.sessions.models import Session
        from django.utils import timezone
        from django.utils.crypto import get_random_string

        from authzguard.models import IndexedSession

        first = self.users
        users = User.objects.bulk_create(
            [User(username=f"user{first + i}", password="!") for i in range(len(counts))],
            batch_size=5000,
        )
        self.users += len(users)
        expire = timezone.now() + timedelta(days=14)
        now = timezone.now()
        sessions: list[Session] = []
        rows: list[IndexedSession] = []
        for user, count in zip(users, counts, strict=True):
            data = {
                "_auth_user_id": str(user.pk),
                "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                "_auth_user_hash": "0" * 64,
            }
            for _ in range(count):
                # What _get_new_session_key() draws, without its per-key existence query.
                key = get_random_string(32, VALID_KEY_CHARS)
                sessions.append(
                    Session(
                        session_key=key, session_data=self.encoder.encode(data), expire_date=expire
                    )
                )
                rows.append(IndexedSession(user=user, session_key=key, created=now, last_seen=now))
        Session.objects.bulk_create(sessions, batch_size=5000)
        IndexedSession.objects.bulk_create(rows, batch_size=5000)
        self.created += len(sessions)
        return [user.pk for user in users]

    def fill_to(self, total: int) -> None:
        while self.created < total:
            users = min(5000, (total - self.created) // SESSIONS_PER_USER) or 1
            self.add_users([SESSIONS_PER_USER] * users)


def decode_everything_scan(user_pk: int) -> int:
    """What public snippets do to end a user's sessions without an index."""
    from django.contrib.sessions.models import Session

    wanted = str(user_pk)  # the session stores a string: comparing with the int matches nothing
    keys = [
        session.session_key
        for session in Session.objects.iterator(chunk_size=2000)
        if session.get_decoded().get("_auth_user_id") == wanted
    ]
    Session.objects.filter(session_key__in=keys).delete()
    return len(keys)


def purge(user_pk: int) -> int:
    from authzguard.sessions import purge_user_sessions

    return purge_user_sessions(user_pk, reason="benchmark")


def median_purge(user_pks: list[int], expected: int) -> float:
    times = []
    for pk in user_pks:
        seconds, ended = timed(lambda pk=pk: purge(pk))
        if ended != expected:
            raise SystemExit(f"purge ended {ended} sessions of user {pk}, expected {expected}")
        times.append(seconds)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "sessions.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        configure(args.database, Path(scratch))
        import django
        from django.db import connection

        test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            results = run(args.sessions, args.database)
        finally:
            connection.creation.destroy_test_db(test_name, verbosity=0)
        results["django"] = django.get_version()
        results["python"] = platform.python_version()

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(
        f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}"
    )


def run(total: int, database: str) -> dict[str, Any]:
    store = Store()
    probes = 5
    # Users whose sessions get purged: created first, so they sit at the start of the table.
    small_store_users = store.add_users([SESSIONS_PER_USER] * probes)
    store.fill_to(total // 10)
    purge_small_store = median_purge(small_store_users, SESSIONS_PER_USER)

    scan_user, *probe_users = store.add_users([SESSIONS_PER_USER] * (probes + 1))
    sized = {count: store.add_users([count] * probes) for count in (1, 100)}
    seconds, _ = timed(lambda: store.fill_to(total))
    print(f"created {store.created} sessions for {store.users} users in {seconds:.1f}s")

    purge_full_store = median_purge(probe_users, SESSIONS_PER_USER)
    by_user_sessions = {SESSIONS_PER_USER: purge_full_store}
    for count, pks in sized.items():
        by_user_sessions[count] = median_purge(pks, count)
    from django.contrib.sessions.models import Session

    stored = Session.objects.count()
    scan_seconds, scanned = timed(lambda: decode_everything_scan(scan_user))
    if scanned != SESSIONS_PER_USER:
        raise SystemExit(f"the scan found {scanned} sessions, expected {SESSIONS_PER_USER}")
    ratio = scan_seconds / purge_full_store
    print(f"decode-everything scan over {stored} sessions: {scan_seconds * 1000:.1f} ms")
    print(f"purge_user_sessions (median of {probes}): {purge_full_store * 1000:.2f} ms")
    verdict = "met" if ratio >= 100 else "NOT met"
    print(f"ratio: {ratio:.0f}x (target >= 100x: {verdict})")
    return {
        "database": database,
        "sessions": store.created,
        "sessions_when_scanned": stored,
        "users": store.users,
        "sessions_per_user": SESSIONS_PER_USER,
        "scan_seconds": round(scan_seconds, 4),
        "scan_us_per_session": round(scan_seconds / stored * 1e6, 2),
        "purge_seconds": round(purge_full_store, 6),
        "ratio": round(ratio, 1),
        "target_ratio": 100,
        "purge_seconds_at_a_tenth_of_the_store": round(purge_small_store, 6),
        "purge_seconds_by_user_sessions": {
            str(count): round(value, 6) for count, value in sorted(by_user_sessions.items())
        },
    }


if __name__ == "__main__":
    main()
