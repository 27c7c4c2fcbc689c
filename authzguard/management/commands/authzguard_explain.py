"""``manage.py authzguard_explain --user NAME --resource KIND --pk PK --action ACT``.

Decides as the running site would: the configured policy and engine, the real user with
their groups (``authzguard.subjects``), and the real object, looked up in the kind's model
through its default manager, its attributes read as a guarded view reads them.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authzguard.exceptions import PolicyError
from authzguard.policy.explain import explain
from authzguard.policy.facts import UsageError, check_action, check_kind
from authzguard.policy.model import Resource
from authzguard.resolvers import get_model, resource_attributes
from authzguard.runtime import get_policy
from authzguard.subjects import subject_for

#: The exit status of a deny under ``--exit-code`` (as ``authzguard explain``).
EXIT_DENIED = 3


class Command(BaseCommand):
    help = "Explain the decision the site makes for one user, action and object."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", metavar="NAME", help="The username (USERNAME_FIELD).")
        who.add_argument("--anonymous", action="store_true", help="A visitor not signed in.")
        parser.add_argument("--resource", required=True, metavar="KIND")
        parser.add_argument("--pk", required=True, help="The object's primary key.")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--action", metavar="ACT")
        what.add_argument("--all-actions", action="store_true")
        parser.add_argument("--format", choices=("text", "json"), default="text")
        parser.add_argument(
            "--exit-code", action="store_true", help=f"exit {EXIT_DENIED} on any deny"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            compiled = get_policy()
        except PolicyError as exc:
            raise CommandError(str(exc)) from exc
        kind_name: str = options["resource"]
        try:
            check_kind(compiled, kind_name)
            actions = (
                list(compiled.policy.resources[kind_name].actions)
                if options["all_actions"]
                else [options["action"]]
            )
            for action in actions:
                check_action(compiled, kind_name, action)
        except UsageError as exc:
            raise CommandError(str(exc)) from exc
        kind = compiled.policy.resources[kind_name]
        user = AnonymousUser() if options["anonymous"] else self._user(options["user"])
        obj = self._object(kind_name, kind.model, options["pk"])
        subject = subject_for(user, compiled)
        resource = Resource(kind_name, resource_attributes(obj, kind))
        results = [(action, explain(compiled, subject, action, resource)) for action in actions]
        if options["format"] == "json":
            documents = [
                {"action": action, **result.as_dict(), "policy_version": compiled.version}
                for action, result in results
            ]
            self.stdout.write(json.dumps(documents if options["all_actions"] else documents[0]))
        else:
            attributes = ", ".join(f"{k}={v!r}" for k, v in resource.attributes.items())
            self.stdout.write(f"resource: {kind_name} pk={obj.pk} ({attributes})")
            for action, result in results:
                if options["all_actions"]:
                    self.stdout.write(f"== {kind_name} {action} ==")
                self.stdout.write("\n".join(result.lines()))
        if options["exit_code"] and not all(r.decision.allowed for _, r in results):
            raise CommandError("denied", returncode=EXIT_DENIED)

    def _user(self, name: str) -> Any:
        manager = get_user_model()._default_manager
        try:
            return manager.get_by_natural_key(name)
        except ObjectDoesNotExist:
            raise CommandError(f"No user {name!r}.") from None

    def _object(self, kind: str, label: str | None, pk: str) -> Any:
        if not label:
            raise CommandError(
                f"Resource kind {kind!r} declares no model: "
                "use `authzguard explain` and give its attributes."
            )
        try:
            model = get_model(label)
        except (LookupError, ValueError) as exc:
            raise CommandError(f"Resource kind {kind!r}: no model {label!r}.") from exc
        try:
            value = model._meta.pk.to_python(pk)
            return model._default_manager.get(pk=value)
        except (ValidationError, ValueError, TypeError):
            raise CommandError(f"Not a valid primary key for {label}: {pk!r}.") from None
        except ObjectDoesNotExist:
            raise CommandError(
                f"No {label} with pk {pk!r} (through its default manager)."
            ) from None
