"""``manage.py authzguard_reload``: tell running workers to take the policy files' version.

Run it on a host where the new policy files are already in place (after the deploy).
It loads and fully checks them first: a broken policy is refused here, and nothing
is announced.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authzguard import runtime
from authzguard.conf import settings
from authzguard.notify import get_backend
from authzguard.reload import write_stamp


class Command(BaseCommand):
    # No system checks first: it checks the policy itself and says why it refuses.
    requires_system_checks: list[str] = []
    help = (
        "Check this host's policy files, then have running workers take their version: "
        "published through AUTHZGUARD_RELOAD_NOTIFY, or stamped for polling workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="With notify on: wait until every live worker runs the version (exit 1 if not).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = runtime.build_policy().version
        except Exception as exc:
            raise CommandError(f"The policy files are refused, nothing announced: {exc}") from exc
        notify, poll = settings.RELOAD_NOTIFY, settings.RELOAD == "poll"
        if notify is None and not poll:
            raise CommandError(
                f"Version {version[:12]} checks out, but AUTHZGUARD_RELOAD is 'off' and "
                "AUTHZGUARD_RELOAD_NOTIFY is None: running workers keep their policy. "
                'Set AUTHZGUARD_RELOAD = "poll" or AUTHZGUARD_RELOAD_NOTIFY, or restart them.'
            )
        backend = get_backend()
        if backend is not None:
            try:
                backend.publish(version)
            except Exception as exc:
                raise CommandError(f"Could not publish through {notify}: {exc}") from exc
            self.stdout.write(
                f"Published version {version[:12]} on {notify} channel "
                f"{settings.NOTIFY_CHANNEL!r}: every worker whose host has these files "
                "takes it now (see manage.py authzguard_status)."
            )
            if options["wait"] > 0:
                self._wait(version, options["wait"])
            return
        stamp = write_stamp(settings.POLICY_PATHS, version)
        self.stdout.write(
            f"Stamped version {version[:12]} in {stamp}: each worker takes it at its next "
            f"poll (within {settings.RELOAD_INTERVAL:g} s), without waiting for a second one."
        )

    def _wait(self, version: str, seconds: float) -> None:
        from authzguard.status import collect_status

        deadline = time.monotonic() + seconds
        while True:
            workers = collect_status()["workers"]
            behind = [w for w in workers if w.get("version") != version]
            if workers and not behind:
                self.stdout.write(f"All {len(workers)} live workers run {version[:12]}.")
                return
            if time.monotonic() >= deadline:
                names = ", ".join(f"{w['host']}:{w['pid']}" for w in behind) or "no live worker"
                raise CommandError(f"Not on {version[:12]} after {seconds:g} s: {names}")
            time.sleep(min(0.5, settings.RELOAD_INTERVAL))
