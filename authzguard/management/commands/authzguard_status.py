"""``manage.py authzguard_status``: every live worker's policy version; laggards flagged.

Exit status 1 when a live worker lags behind the expected version (the last one
published, else this host's files), so a deploy script or a monitor can act on it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authzguard.status import collect_status


def _short(version: Any) -> str:
    return str(version)[:12] if version else "-"


class Command(BaseCommand):
    # No system checks first: it must answer while a policy or setting is broken.
    requires_system_checks: list[str] = []
    help = "List every live worker's policy version and flag the ones that lag (exit 1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = collect_status()
        except Exception as exc:
            raise CommandError(f"The status is unavailable: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self._table(report)
        if report["lagging"]:
            raise CommandError(
                f"{report['lagging']} of {len(report['workers'])} workers lag behind "
                f"version {_short(report['expected'])}.",
                returncode=1,
            )

    def _table(self, report: dict[str, Any]) -> None:
        source = report["notify"] or "this process only (AUTHZGUARD_RELOAD_NOTIFY is None)"
        self.stdout.write(f"Workers seen through: {source}")
        self.stdout.write(
            f"Expected version: {_short(report['expected'])} ({report['expected_from']})"
        )
        if report["files_error"]:
            self.stdout.write(f"This host's policy files are refused: {report['files_error']}")
        if not report["workers"]:
            self.stdout.write("No live worker has reported (they report once they serve).")
        self.stdout.write(f"{'HOST':<24} {'PID':>7}  {'VERSION':<12}  {'LOADED AT':<32}  STATE")
        for worker in report["workers"]:
            state = "LAGGING" if worker["lagging"] else "ok"
            if worker.get("last_error"):
                state += f"; refused a version: {worker['last_error']}"
            if worker.get("notify_error"):
                state += f"; notify: {worker['notify_error']}"
            self.stdout.write(
                f"{worker.get('host')!s:<24} {worker.get('pid')!s:>7}  "
                f"{_short(worker.get('version')):<12}  {worker.get('loaded_at') or '-':<32}  "
                f"{state}"
            )
