"""``manage.py authzguard_routes``: every URL pattern and how authzguard protects it.

Flags: ``unbound`` (no binding, no exemption), ``unprotected`` (unbound and
``AUTHZGUARD_DENY_BY_DEFAULT`` off: it runs unchecked), ``state-change-by-get`` (a
state-changing action answering GET), ``wildcard-exemption`` (exempt through a ``*``
pattern), ``bound-twice`` (code and ``routes:``). ``--fail-on unprotected`` exits 1 when
any view is unbound or reachable unchecked.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authzguard.exceptions import PolicyError
from authzguard.routes import UNPROTECTED, RouteEntry, inventory
from authzguard.runtime import get_policy


def _line(entry: RouteEntry) -> str:
    parts = [f"{entry.url}  {entry.view}  [{entry.binding}]"]
    for bound in entry.bound:
        target = (
            f" target {bound.source or 'auto'}:{bound.param or '-'}->{bound.field}"
            if bound.field
            else ""
        )
        rules = ", ".join(bound.rules) or "no allow rule"
        parts.append(
            f"    {'/'.join(bound.methods) or '-'} {bound.kind}.{bound.action}{target}; allowed by: {rules}"
        )
    if entry.exempted_by:
        parts.append(f"    exempt by {entry.exempted_by}")
    if entry.flags:
        parts.append(f"    FLAGS: {', '.join(entry.flags)}")
    return "\n".join(parts)


class Command(BaseCommand):
    help = "List every URL pattern with its authzguard binding, action, target and rules."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("text", "json"), default="text")
        parser.add_argument(
            "--fail-on",
            choices=("unprotected",),
            help="unprotected: exit 1 when a view has no binding and no exemption",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            policy = get_policy()
        except PolicyError as exc:
            raise CommandError(f"the policy does not load:\n{exc}") from None
        entries = inventory(policy)
        if options["format"] == "json":
            self.stdout.write(json.dumps([e.as_dict() for e in entries], indent=2))
        else:
            for entry in entries:
                self.stdout.write(_line(entry))
        failing = [e for e in entries if "unbound" in e.flags or UNPROTECTED in e.flags]
        self.stderr.write(
            f"{len(entries)} URL patterns, {len(failing)} unbound, "
            f"{sum('state-change-by-get' in e.flags for e in entries)} state changes through GET, "
            f"{sum('wildcard-exemption' in e.flags for e in entries)} exempt by wildcard"
        )
        if options["fail_on"] == "unprotected" and failing:
            sys.exit(1)
