"""``manage.py authzguard_index_sessions [--prune]``: index sessions that predate authzguard."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from authzguard.models import IndexedSession
from authzguard.progress import CommandOutput, progress
from authzguard.sessions.engines import get_engine

_BATCH = 1000


class Command(BaseCommand):
    help = (
        "Index the signed-in sessions already in the store (db, cached_db, file), once, "
        "before SessionIndexMiddleware is enabled; --prune drops index rows whose session "
        "is gone from the store."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--prune", action="store_true", help="Also remove index rows of vanished sessions."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            engine = get_engine()
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from exc
        if not engine.enumerable:
            raise CommandError(
                f"The {engine.name!r} session engine cannot list its sessions, so existing "
                "ones cannot be indexed; they are indexed as users sign in again."
            )
        counts = self._index(engine)
        if options["prune"]:
            counts["pruned"] = self._prune(engine)
        # "indexed" always; the others only when some session was one: "unknown user: 0"
        # read as if there had been an unknown user.
        names = ["indexed", *sorted(name for name in counts if name != "indexed" and counts[name])]
        summary = ", ".join(f"{name}: {counts[name]}" for name in names)
        self.stdout.write(f"Sessions {summary}.")

    def _index(self, engine: Any) -> Counter[str]:
        counts: Counter[str] = Counter()
        pk_field = get_user_model()._meta.pk
        indexed = set(IndexedSession.objects.values_list("session_key", flat=True))
        pending: dict[str, Any] = {}  # session key -> user pk
        out = CommandOutput(self.stderr)
        with progress("reading sessions", unit="sessions", stream=out) as advance:
            for key, data in engine.stored_sessions():
                advance(1)
                self._sort(key, data, counts, indexed, pending, pk_field)
        existing = set(
            get_user_model()
            ._default_manager.filter(pk__in=set(pending.values()))
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        rows = [
            IndexedSession(session_key=key, user_id=user_pk, created=now, last_seen=now)
            for key, user_pk in pending.items()
            if user_pk in existing
        ]
        counts["of an unknown user"] += len(pending) - len(rows)
        with progress("indexing", total=len(rows), unit="sessions", stream=out) as advance:
            for start in range(0, len(rows), _BATCH):
                batch = rows[start : start + _BATCH]
                IndexedSession.objects.bulk_create(batch, ignore_conflicts=True)
                advance(len(batch))
        counts["indexed"] += len(rows)
        return counts

    @staticmethod
    def _sort(key: str, data: Any, counts: Counter[str], indexed: set[str],
              pending: dict[str, Any], pk_field: Any) -> None:  # fmt: skip
        """Count one stored session, or queue it for indexing."""
        if data is None:
            counts["undecodable"] += 1
        elif SESSION_KEY not in data:
            counts["anonymous"] += 1
        elif key in indexed:
            counts["already indexed"] += 1
        else:
            try:
                pending[key] = pk_field.to_python(data[SESSION_KEY])
            except Exception:
                counts["undecodable"] += 1

    def _prune(self, engine: Any) -> int:
        gone = [
            key
            for key in IndexedSession.objects.values_list("session_key", flat=True).iterator()
            if not engine.exists(key)
        ]
        for start in range(0, len(gone), _BATCH):
            IndexedSession.objects.filter(session_key__in=gone[start : start + _BATCH]).delete()
        return len(gone)
