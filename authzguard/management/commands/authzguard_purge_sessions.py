"""``manage.py authzguard_purge_sessions --user ID | --email EMAIL``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authzguard.progress import CommandOutput, Stream, progress
from authzguard.sessions.purge import purge_user_sessions


class _Progress:
    """Shows a purge's progress once it knows how many stored sessions it removes."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.stack = ExitStack()
        self.advance: Callable[[int], None] | None = None
        self.done = 0

    def __call__(self, ended: int, total: int) -> None:
        if self.advance is None:
            shown = progress("ending sessions", total=total, unit="sessions", stream=self.stream)
            self.advance = self.stack.enter_context(shown)
        self.advance(ended - self.done)
        self.done = ended

    def close(self) -> None:
        self.stack.close()


class Command(BaseCommand):
    help = "End every session of one user, on the configured session engine."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="The user's primary key.")
        who.add_argument("--email", help="The user's email address (must match one user).")
        parser.add_argument("--reason", default="command", help="Recorded in the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if options["user"] is not None:
            lookup = {"pk": options["user"]}
        else:
            lookup = {user_model.get_email_field_name(): options["email"]}
        try:
            users = list(user_model._default_manager.filter(**lookup)[:2])
        except (ValueError, TypeError) as exc:
            raise CommandError(f"Not a valid user id: {options['user']!r}") from exc
        if not users:
            raise CommandError("No such user.")
        if len(users) > 1:
            raise CommandError("That email address matches more than one user: use --user.")
        shown = _Progress(CommandOutput(self.stderr))
        try:
            count = purge_user_sessions(users[0], reason=options["reason"], report=shown)
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            shown.close()
        self.stdout.write(f"Ended {count} session(s) of user {users[0].pk}.")
