"""When a request reads the user's groups: a static rule, known when the policy compiles.

The groups are read (one query, before the lookup) exactly when some rule on the
request's (kind, action) names a group-granted role or a role one inherits
(``CompiledPolicy.groups_matter``). They are never read otherwise, and whether they are
read never depends on the target, on whether it exists, on the outcome, or on
``AUTHZGUARD_HIDE_EXISTENCE``. These tests count the queries of real requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path

from authzguard.decorators import authorize
from authzguard.policy import compile_policy, load_policy
from authzguard.runtime import reset_policy
from tests.testapp.models import Note

pytestmark = pytest.mark.django_db

POLICY = """\
version: 1
roles:
  reader: {}
  team:
    granted_to: [{group: team}]
  helper:
    inherits: [reader]
    granted_to: [{group: helpers}]
  lead:
    inherits: [team]
    granted_to: [staff]
resources:
  doc:
    model: testapp.Note
    actions: {read: {}, archive: {safe: true}, review: {safe: true}, export: {safe: true}}
    attributes:
      owner: {type: key, field: owner.pk}
rules:
  - id: own
    effect: allow
    subjects: [authenticated]
    actions: [read, archive, export]
    resource: doc
    when: resource.owner == subject.id
  - id: team-reads
    effect: allow
    subjects: [team]
    actions: [read, review]
    resource: doc
  - id: lead-archives
    effect: allow
    subjects: [lead]
    actions: [archive]
    resource: doc
  - id: readers-export
    effect: allow
    subjects: [reader]
    actions: [export]
    resource: doc
"""


def _answer(request: HttpRequest, id: str) -> HttpResponse:
    return HttpResponse(request.authz.target.title)  # type: ignore[attr-defined]


class Urls:
    urlpatterns = [
        path(f"{action}/<str:id>/", authorize(action, "doc", target="id", source="path")(_answer))
        for action in ("read", "archive", "review", "export")
    ]


@pytest.fixture
def policy_dir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    with override_settings(ROOT_URLCONF=Urls, AUTHZGUARD_POLICY_PATHS=[tmp_path]):
        reset_policy()
        yield tmp_path
    reset_policy()


@pytest.fixture
def people(db: None) -> dict[str, User]:
    owner = User.objects.create_user("owner")
    stranger = User.objects.create_user("stranger")
    member = User.objects.create_user("member")
    member.groups.add(Group.objects.create(name="team"))
    helper = User.objects.create_user("helper")
    helper.groups.add(Group.objects.create(name="helpers"))
    return {"owner": owner, "stranger": stranger, "member": member, "helper": helper}


@pytest.fixture
def note(people: dict[str, User]) -> Note:
    return Note.objects.create(owner=people["owner"], slug="n", title="the note")


def queries(user: User, url: str) -> tuple[int, list[str]]:
    client = Client()
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    # The first two are the session and request.user, the same for every request.
    return status, [q["sql"] for q in captured.captured_queries[2:]]


def shape(sqls: list[str]) -> list[str]:
    return [
        "groups" if "auth_group" in sql else "note" if "testapp_note" in sql else sql
        for sql in sqls
    ]


def test_the_rule_is_what_the_compiled_policy_says(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    policy = compile_policy(load_policy([tmp_path / "p.yaml"]))
    # team is granted by a group; reader through helper, which a group grants.
    assert policy.groups_matter("doc", "read")
    assert policy.groups_matter("doc", "review")
    assert policy.groups_matter("doc", "export")
    # lead inherits team but is granted to staff: no group grants lead.
    assert not policy.groups_matter("doc", "archive")


@pytest.mark.parametrize("hide", [False, True], ids=["shown", "hidden"])
def test_an_owners_request_reads_the_groups_when_a_group_role_is_named(
    policy_dir: Path, people: dict[str, User], note: Note, hide: bool
) -> None:
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=hide):
        mine = queries(people["owner"], f"/read/{note.pk}/")
        theirs = queries(people["stranger"], f"/read/{note.pk}/")
        missing = queries(people["stranger"], f"/read/{note.pk + 1000}/")
        member = queries(people["member"], f"/read/{note.pk}/")
    assert mine[0] == member[0] == 200
    assert theirs[0] == (404 if hide else 403)
    assert missing[0] == 404
    # The lookup plus one group query, read first: the same for every caller and target.
    for status, sqls in (mine, theirs, missing, member):
        assert shape(sqls) == ["groups", "note"], status


@pytest.mark.parametrize("hide", [False, True], ids=["shown", "hidden"])
def test_no_group_query_where_no_group_role_is_named(
    policy_dir: Path, people: dict[str, User], note: Note, hide: bool
) -> None:
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=hide):
        mine = queries(people["owner"], f"/archive/{note.pk}/")
        theirs = queries(people["member"], f"/archive/{note.pk}/")
        missing = queries(people["member"], f"/archive/{note.pk + 1000}/")
    assert (mine[0], theirs[0], missing[0]) == (200, 404 if hide else 403, 404)
    # lead-archives names lead, which no group grants: the member's group is irrelevant.
    for _, sqls in (mine, theirs, missing):
        assert shape(sqls) == ["note"]


def test_a_role_a_group_role_inherits_counts(
    policy_dir: Path, people: dict[str, User], note: Note
) -> None:
    helper = queries(people["helper"], f"/export/{note.pk}/")
    owner = queries(people["owner"], f"/export/{note.pk}/")
    assert helper[0] == owner[0] == 200
    assert shape(helper[1]) == shape(owner[1]) == ["groups", "note"]


def test_a_subject_only_a_group_could_allow_is_denied_before_the_lookup(
    policy_dir: Path, people: dict[str, User], note: Note
) -> None:
    # review: only the team may. The groups are read, then no lookup for an outsider.
    outsider = queries(people["owner"], f"/review/{note.pk}/")
    missing = queries(people["owner"], f"/review/{note.pk + 1000}/")
    member = queries(people["member"], f"/review/{note.pk}/")
    assert (outsider[0], missing[0], member[0]) == (403, 403, 200)
    assert shape(outsider[1]) == shape(missing[1]) == ["groups"]
    assert shape(member[1]) == ["groups", "note"]


def test_prefetched_groups_are_not_read_again(
    policy_dir: Path, people: dict[str, User], note: Note
) -> None:
    """A middleware or backend that loads ``request.user`` with its groups saves the query."""
    from authzguard.runtime import get_policy
    from authzguard.subjects import subject_for

    user = User.objects.prefetch_related("groups").get(pk=people["member"].pk)
    with CaptureQueriesContext(connection) as captured:
        subject = subject_for(user, get_policy(), kind="doc", action="read")
    assert "team" in subject.roles
    assert len(captured) == 0
