"""``explain`` with Django facts decides as the running site does, for real users and objects.

For each real user (groups, staff, superuser, inactive, anonymous) and real object, three
answers must agree: the site's own (a request through the test client where a view
exists, and the runtime's subject and attributes otherwise), ``authzguard explain``
given the user's facts as an auditor would type them, and ``manage.py
authzguard_explain`` on the same user and object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from authzguard.cli import main
from authzguard.policy.model import Resource
from authzguard.resolvers import resource_attributes
from authzguard.runtime import get_policy
from authzguard.subjects import subject_for
from tests.testapp.models import Note

POLICIES = Path(__file__).resolve().parent / "policies"

#: The enforcement policy plus a staff-granted role that inherits a group-granted one.
STAFF_ROLE = """
  auditor:
    description: Every staff member; sees what support sees.
    granted_to: [staff]
    inherits: [support]
"""
STAFF_RULE = """
  - id: no-auditor-edits
    effect: deny
    subjects: [auditor]
    actions: [edit]
    resource: note
"""


@pytest.fixture
def policy_dir(tmp_path: Path) -> Iterator[Path]:
    text = (POLICIES / "enforcement.yaml").read_text(encoding="utf-8")
    text = text.replace("\nresources:\n", STAFF_ROLE + "\nresources:\n", 1)
    text = text.replace("\nroutes:\n", STAFF_RULE + "\nroutes:\n", 1)
    (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
    with override_settings(AUTHZGUARD_POLICY_PATHS=[tmp_path]):
        yield tmp_path


@pytest.fixture
def people(db: None) -> dict[str, Any]:
    support = Group.objects.create(name="support")
    Group.objects.create(name="unrelated")
    plain = User.objects.create_user("ann")
    helper = User.objects.create_user("sue")
    helper.groups.add(support, Group.objects.get(name="unrelated"))
    staff = User.objects.create_user("stan", is_staff=True)
    root = User.objects.create_user("root", is_superuser=True)
    # Inactive: Django grants nothing for the flags or groups; neither may authzguard.
    gone = User.objects.create_user("gone", is_superuser=True, is_staff=True, is_active=False)
    gone.groups.add(support)
    return {
        "ann": plain,
        "sue": helper,
        "stan": staff,
        "root": root,
        "gone": gone,
        "anonymous": AnonymousUser(),
    }


def facts_of(user: Any) -> str:
    """The facts an auditor would type for this user, read from its fields."""
    if not user.is_authenticated:
        return "anonymous"
    groups = "+".join(sorted(user.groups.values_list("name", flat=True)))
    flags = f"staff={str(user.is_staff).lower()},superuser={str(user.is_superuser).lower()}"
    return (
        f"id={user.pk},username={user.username},active={str(user.is_active).lower()},"
        f"{flags},groups={groups}"
    )


def cli_decision(
    policy: Path, user: Any, action: str, resource: str, capsys: pytest.CaptureFixture[str]
) -> tuple[bool, str | None]:
    argv = ["explain", str(policy), "--subject", facts_of(user), "--action", action]
    code = main([*argv, "--resource", resource, "--format", "json", "--exit-code"])
    result = json.loads(capsys.readouterr().out)
    assert code == (0 if result["allowed"] else 3)
    return result["allowed"], result["rule"]


def command_decision(user: Any, kind: str, pk: object, action: str) -> tuple[bool, str | None]:
    out = StringIO()
    who = {"anonymous": True} if not user.is_authenticated else {"user": user.username}
    options = {"resource": kind, "pk": str(pk), "action": action, "format": "json"}
    call_command("authzguard_explain", **who, **options, stdout=out)
    result = json.loads(out.getvalue())
    return result["allowed"], result["rule"]


def runtime_decision(user: Any, kind: str, obj: Any, action: str) -> tuple[bool, str | None]:
    compiled = get_policy()
    if user.is_authenticated:
        user = User.objects.get(pk=user.pk)  # a fresh object, as each request has
    resource = Resource(kind, resource_attributes(obj, compiled.policy.resources[kind]))
    decision = compiled.decide(subject_for(user, compiled), action, resource)
    return decision.allowed, decision.rule


def request_allowed(user: Any, path: str) -> bool:
    client = Client()
    if user.is_authenticated:
        client.force_login(user)
    status = client.get(path).status_code
    assert status in (200, 302, 403), (path, status)
    return status == 200


def test_explain_with_facts_decides_as_the_site_does(
    policy_dir: Path, people: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ann, sue = people["ann"], people["sue"]
    notes = [
        Note.objects.create(owner=ann, slug="ann", title="Ann's"),
        Note.objects.create(owner=sue, slug="sue", title="Sue's"),
    ]
    targets: list[tuple[str, Any, str, str | None]] = []
    for note in notes:
        text = f"note:owner={note.owner_id},id={note.pk}"
        targets += [("note", note, text, f"/notes/{note.pk}/")]
    for user in (ann, people["root"]):
        targets += [("user", user, f"user:id={user.pk}", f"/users/{user.pk}/")]
        targets += [("session", user, f"session:owner={user.pk}", None)]
    actions = {"note": ["read", "edit"], "user": ["read", "delete"], "session": ["end"]}
    seen: dict[tuple[str, str], set[bool]] = {}
    for name, user in people.items():
        for kind, obj, text, path in targets:
            for action in actions[kind]:
                site = runtime_decision(user, kind, obj, action)
                case = (name, kind, obj.pk, action)
                assert cli_decision(policy_dir, user, action, text, capsys) == site, case
                assert command_decision(user, kind, obj.pk, action) == site, case
                if path is not None and action == "read":
                    assert request_allowed(user, path) == site[0], case
                seen.setdefault((name, action), set()).add(site[0])
    # The comparison has teeth: facts that matter change the answers.
    assert seen[("sue", "read")] == {True}  # the support group reads every note and user
    assert seen[("stan", "edit")] == {False}  # staff -> auditor, denied edits
    assert seen[("stan", "read")] == {True}  # auditor inherits support
    assert seen[("root", "delete")] == {True}
    assert seen[("gone", "delete")] == {False}  # an inactive superuser is no admin
    assert seen[("gone", "read")] == {False}  # not even as support (its group)
    assert seen[("anonymous", "read")] == {False}
    assert seen[("ann", "edit")] == {True, False}  # only her own note


def test_command_exit_code_and_errors(policy_dir: Path, people: dict[str, Any]) -> None:
    note = Note.objects.create(owner=people["sue"], slug="s", title="S")
    out = StringIO()
    call_command(
        "authzguard_explain", user="ann", resource="note", pk=str(note.pk), all_actions=True,
        stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "== note read ==" in text
    assert "== note replace ==" in text
    assert f"resource: note pk={note.pk} (owner={people['sue'].pk}, id={note.pk})" in text
    with pytest.raises(CommandError, match="denied") as caught:
        call_command(
            "authzguard_explain", user="ann", resource="note", pk=str(note.pk), action="edit",
            exit_code=True, stdout=StringIO(),
        )  # fmt: skip
    assert caught.value.returncode == 3
    problems = {
        "No user 'nobody'": {"user": "nobody", "resource": "note", "pk": "1", "action": "read"},
        "no resource kind 'nte'; did you mean 'note'": {
            "user": "ann", "resource": "nte", "pk": "1", "action": "read",
        },
        "declares no action 'reed'; did you mean 'read'": {
            "user": "ann", "resource": "note", "pk": "1", "action": "reed",
        },
        "Not a valid primary key for testapp.Note: 'x'": {
            "user": "ann", "resource": "note", "pk": "x", "action": "read",
        },
        "No testapp.Note with pk '999'": {
            "user": "ann", "resource": "note", "pk": "999", "action": "read",
        },
    }  # fmt: skip
    for message, options in problems.items():
        with pytest.raises(CommandError, match=message):
            call_command("authzguard_explain", **options, stdout=StringIO())
