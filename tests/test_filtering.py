"""List filtering (issue 12.4): ``filter_queryset``, the list mixin, the DRF filter backend,
the start-up checks and ``authzguard plan``, through real requests.

Policy: tests/filterapp/policies/rows.yaml (owners list their rows, staff the flagged or
public ones, the group ``auditors`` every row, and nobody a row named "hidden").
``tests/test_filtering_postgresql.py`` runs this file again on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

import authzguard
from authzguard.cli import main
from authzguard.exceptions import FilterError
from authzguard.filter_checks import MESSAGES, check_filtering
from authzguard.policy.model import Resource
from authzguard.resolvers import resource_attributes
from authzguard.runtime import get_policy
from authzguard.subjects import subject_for
from tests.filterapp.models import Parent, Row
from tests.projectapp.models import Project

POLICIES = Path(__file__).resolve().parent / "filterapp" / "policies"
PROJECTS = Path(__file__).resolve().parent / "projectapp" / "policies" / "projects.yaml"

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.filterapp.urls")]


@pytest.fixture(autouse=True)
def _policy() -> Iterator[None]:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICIES]):
        yield


@pytest.fixture
def people() -> dict[str, User]:
    auditor = User.objects.create_user("audrey", password="pw")
    auditor.groups.add(Group.objects.create(name="auditors"))
    return {
        "owner": User.objects.create_user("olive", password="pw"),
        "staff": User.objects.create_user("sam", password="pw", is_staff=True),
        "auditor": auditor,
        "stranger": User.objects.create_user("stan", password="pw"),
    }


@pytest.fixture
def rows(people: dict[str, User]) -> dict[str, Row]:
    public = Parent.objects.create(label="public")
    owner, other = people["owner"], User.objects.create_user("otto")
    return {
        "mine": Row.objects.create(owner=owner, name="mine", flag=False),
        "mine-hidden": Row.objects.create(owner=owner, name="hidden"),
        "mine-unnamed": Row.objects.create(owner=owner, name=None),
        "flagged": Row.objects.create(owner=other, name="f", flag=True),
        "public": Row.objects.create(owner=other, name="p", flag=False, parent=public),
        "plain": Row.objects.create(owner=other, name="x", flag=False),
        # Every applicable allow is evaluated: with no owner, the owners' rule fails.
        "ownerless": Row.objects.create(name="o", flag=True),
    }


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _decided(user: Any, action: str) -> set[int]:
    """The rows ``decide`` allows one by one: what the filter must return."""
    policy = get_policy()
    subject = subject_for(user, policy)
    kind = policy.policy.resources["row"]
    return {
        row.pk
        for row in Row.objects.all()
        if policy.decide(subject, action, Resource("row", resource_attributes(row, kind))).allowed
    }


@pytest.mark.parametrize("who", ["owner", "staff", "auditor", "stranger"])
def test_the_list_page_shows_exactly_the_allowed_rows(
    who: str, people: dict[str, User], rows: dict[str, Row]
) -> None:
    expected = {
        # The owner's row named "hidden" is denied to everyone; an unnamed one fails the
        # deny's condition, which denies too. Staff: "mine" and "plain" have no parent
        # label for the second half of their condition to read.
        "owner": {rows["mine"].pk},
        "staff": {rows["flagged"].pk, rows["public"].pk},
        "auditor": {rows["mine"].pk, rows["flagged"].pk, rows["public"].pk, rows["plain"].pk},
        "stranger": set(),
    }[who]
    response = _client(people[who]).get("/rows/")
    assert response.status_code == 200
    assert set(response.json()["rows"]) == expected == _decided(people[who], "list")


def test_anonymous_users_no_rule_covers_get_the_ordinary_denial(rows: dict[str, Row]) -> None:
    response = Client().get("/rows/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_list_costs_one_query_and_the_group_query(
    people: dict[str, User], rows: dict[str, Row]
) -> None:
    client = _client(people["auditor"])
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/rows/").status_code == 200
    tables = [q["sql"] for q in queries.captured_queries if "filterapp_" in q["sql"]]
    groups = [q["sql"] for q in queries.captured_queries if "auth_group" in q["sql"]]
    assert len(tables) == 1 and len(groups) == 1, queries.captured_queries


def test_filter_queryset_reads_groups_only_where_they_matter(people: dict[str, User]) -> None:
    """Projects: no group-granted role is named on (project, list): no group query."""
    owner = people["owner"]
    mine = Project.objects.create(owner=owner, name="a")
    Project.objects.create(owner=people["staff"], name="b")
    request = RequestFactory().get("/")
    request.user = User.objects.get(pk=owner.pk)
    with (
        override_settings(AUTHZGUARD_POLICY_PATHS=[PROJECTS]),
        CaptureQueriesContext(connection) as queries,
    ):
        found = list(authzguard.filter_queryset(request, "list", Project.objects.all()))
    assert found == [mine]
    assert len(queries.captured_queries) == 1, queries.captured_queries


def test_drf_list_is_narrowed_and_detail_keeps_its_decision(
    people: dict[str, User], rows: dict[str, Row]
) -> None:
    client = _client(people["owner"])
    listed = client.get("/api/rows/")
    assert listed.status_code == 200
    assert {item["id"] for item in listed.json()} == {rows["mine"].pk}
    assert client.get(f"/api/rows/{rows['mine'].pk}/").status_code == 200
    assert client.get(f"/api/rows/{rows['plain'].pk}/").status_code == 403
    staff = _client(people["staff"]).get("/api/rows/").json()
    assert {item["id"] for item in staff} == {rows["flagged"].pk, rows["public"].pk}


def test_no_applicable_allow_is_an_empty_queryset_without_a_query(rows: dict[str, Row]) -> None:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with CaptureQueriesContext(connection) as queries:
        assert list(authzguard.filter_queryset(request, "list", Row.objects.all())) == []
    assert queries.captured_queries == []


def test_a_condition_sql_cannot_express_is_an_error_never_a_python_filter(
    people: dict[str, User], rows: dict[str, Row]
) -> None:
    request = RequestFactory().get("/")
    request.user = people["owner"]
    with CaptureQueriesContext(connection) as queries, pytest.raises(FilterError) as caught:
        authzguard.filter_queryset(request, "export", Row.objects.all())
    assert caught.value.rule == "export-shouting"
    assert "type: any" in str(caught.value)
    assert not [q for q in queries.captured_queries if "filterapp_row" in q["sql"]]


def test_a_model_no_kind_names_needs_kind(people: dict[str, User]) -> None:
    request = RequestFactory().get("/")
    request.user = people["owner"]
    with pytest.raises(FilterError, match="no kind names it"):
        authzguard.filter_queryset(request, "list", Parent.objects.all())
    with pytest.raises(FilterError, match="declares no action"):
        authzguard.filter_queryset(request, "lists", Row.objects.all())


def _write(tmp_path: Path, attributes: str, rules: str, *, model: str = "filterapp.Row") -> Path:
    (tmp_path / "p.yaml").write_text(
        "version: 1\nresources:\n  row:\n"
        + (f"    model: {model}\n" if model else "")
        + "    actions:\n      list: {safe: true, filterable: true}\n"
        + f"    attributes:\n{attributes}rules:\n{rules}"
    )
    return tmp_path


OWNER_RULE = (
    "  - {id: owners, effect: allow, subjects: [authenticated], actions: [list], resource: row,"
    " when: resource.owner == subject.id}\n"
)


def _ids(messages: list[Any]) -> list[tuple[str, str]]:
    return [(m.id, m.msg) for m in messages]


@pytest.mark.urls("tests.filterapp.export_urls")
def test_a_filtered_view_whose_rule_cannot_become_sql_is_a_startup_error() -> None:
    """The list page, and the viewset whose filter backend narrows ``list`` (regression:
    a viewset's actions were looked up by HTTP method, so its list went unchecked)."""
    found = sorted(_ids(check_filtering()))
    assert [i for i, _ in found] == ["authzguard.E071", "authzguard.E071"], found
    assert "api-row-export-list" in found[0][1] and "row-export" in found[1][1]
    assert all("'export-shouting'" in message for _, message in found)


@pytest.mark.urls("tests.filterapp.export_urls")
def test_checks_pass_on_the_lists_that_can_be_filtered(tmp_path: Path) -> None:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[PROJECTS]):
        assert check_filtering() == []


@pytest.mark.urls("tests.filterapp.export_urls")
def test_a_declared_type_unlike_its_column_is_a_startup_error(tmp_path: Path) -> None:
    attrs = "      owner: {type: key, field: owner}\n      count: {type: str}\n"
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path, attrs, OWNER_RULE)]):
        found = _ids(check_filtering())
    assert [i for i, _ in found] == ["authzguard.E070"]
    assert "'count' is declared str" in found[0][1]


@pytest.mark.urls("tests.filterapp.export_urls")
def test_filterable_pairs_name_the_rule_and_the_attribute(tmp_path: Path) -> None:
    attrs = (
        "      owner: {type: key, field: owner}\n"
        "      shouted: {type: str, field: shouted}\n"
        "      team: {type: list}\n"
    )
    rules = OWNER_RULE + (
        "  - {id: loud, effect: deny, subjects: ['*'], actions: [list], resource: row,"
        ' when: resource.shouted == "X"}\n'
    )
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path, attrs, rules)]):
        found = _ids(check_filtering())
    assert sorted(i for i, _ in found) == ["authzguard.E071", "authzguard.E072", "authzguard.E072"]
    assert any("rule 'loud'" in msg and "shouted" in msg for _, msg in found)


@pytest.mark.urls("tests.filterapp.export_urls")
def test_a_filterable_kind_without_a_model_is_a_startup_error(tmp_path: Path) -> None:
    attrs = "      owner: {type: key}\n"
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path, attrs, OWNER_RULE, model="")]):
        assert [i for i, _ in _ids(check_filtering())] == ["authzguard.E073"]


def test_check_ids_are_in_the_range_of_list_filtering() -> None:
    ids = [check_id for check_id, *_ in MESSAGES]
    assert len(ids) == len(set(ids))
    assert all("authzguard.E070" <= i <= "authzguard.E079" for i in ids)


def test_plan_prints_always_never_or_the_condition(capsys: pytest.CaptureFixture[str]) -> None:
    policy = str(POLICIES / "rows.yaml")
    cases = [
        ("anonymous", "NEVER"),
        (
            "id=3,roles=auditors",
            '(not (resource.name == "hidden")) and ((resource.owner == 3) or true)',
        ),
        ("id=3", '(not (resource.name == "hidden")) and (resource.owner == 3)'),
        ("username=u", '(not (resource.name == "hidden")) and (resource.owner == subject.id)'),
    ]
    for subject, expected in cases:
        args = [policy, "--subject", subject, "--action", "list", "--resource", "row"]
        assert main(["plan", *args]) == 0
        assert capsys.readouterr().out.strip() == expected
    assert main(["plan", policy, "--subject", "id=3", "--action", "list", "--resource", "x"]) == 2
    capsys.readouterr()
    admin = ["--subject", "roles=admin", "--action", "delete", "--resource", "project"]
    assert main(["plan", str(PROJECTS), *admin]) == 0
    assert capsys.readouterr().out.strip() == "ALWAYS"


@pytest.mark.urls("tests.filterapp.export_urls")
def test_a_condition_whose_sql_would_explode_is_refused_at_startup(tmp_path: Path) -> None:
    """Each comparison of two true/false values reads both twice: 30 nested would write
    2**30 terms. The compiler shares them, counts the terms, and refuses."""
    condition = "resource.flag == true"
    for _ in range(30):
        condition = f"({condition}) == (resource.count == 1)"
    rules = OWNER_RULE + (
        "  - {id: nested, effect: allow, subjects: [authenticated], actions: [list],"
        f" resource: row, when: '{condition}'}}\n"
    )
    attrs = "      owner: {type: key}\n      flag: {type: bool}\n      count: {type: int}\n"
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path, attrs, rules)]):
        found = _ids(check_filtering())
    assert [i for i, _ in found] == ["authzguard.E071"]
    assert "'nested'" in found[0][1] and "terms of SQL" in found[0][1]


def test_an_absent_value_fails_only_where_short_circuit_reads_it(
    tmp_path: Path, people: dict[str, User]
) -> None:
    rules = (
        "  - {id: either, effect: allow, subjects: [authenticated], actions: [list],"
        ' resource: row, when: resource.flag == true or resource.name == "x"}\n'
    )
    attrs = "      flag: {type: bool}\n      name: {type: str}\n"
    listed = {
        Row.objects.create(flag=True, name=None).pk: True,  # the right side is never read
        Row.objects.create(flag=False, name=None).pk: False,  # read, absent: fails
        Row.objects.create(flag=None, name="x").pk: False,  # the left side fails first
        Row.objects.create(flag=False, name="x").pk: True,
    }
    request = RequestFactory().get("/")
    request.user = people["owner"]
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path, attrs, rules)]):
        found = set(authzguard.filter_queryset(request, "list", Row.objects.all()))
        assert {row.pk for row in found} == {pk for pk, shown in listed.items() if shown}
        assert {row.pk for row in found} == _decided(people["owner"], "list")


@pytest.mark.urls("tests.filterapp.export_urls")
def test_to_many_lists_are_filtered_by_membership_only(tmp_path: Path) -> None:
    """A to-many ``type: list`` attribute is no E072; ``in``/``not in`` with a value on the
    left become SQL, anything else is E071 naming the rule (a list in a column stays E072)."""
    attrs = (
        "      owner: {type: key, field: owner}\n"
        "      members: {type: list, field: members}\n"
        "      siblings: {type: list, field: parent.rows}\n"
    )
    rules = OWNER_RULE + (
        "  - {id: team, effect: allow, subjects: [authenticated], actions: [list],"
        " resource: row, when: subject.id in resource.members or 3 not in resource.siblings}\n"
    )
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path, attrs, rules)]):
        assert check_filtering() == []
    rules += (
        "  - {id: same, effect: deny, subjects: ['*'], actions: [list], resource: row,"
        " when: 'resource.members == [1]'}\n"
        "  - {id: owned, effect: deny, subjects: ['*'], actions: [list], resource: row,"
        " when: resource.owner in resource.members}\n"
    )
    (tmp_path / "more").mkdir()
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path / "more", attrs, rules)]):
        found = _ids(check_filtering())
    assert sorted(i for i, _ in found) == ["authzguard.E071", "authzguard.E071"], found
    assert any("'same'" in m for _, m in found) and any("'owned'" in m for _, m in found)


def test_a_to_many_membership_is_one_query_without_duplicate_rows(
    tmp_path: Path, people: dict[str, User]
) -> None:
    attrs = "      owner: {type: key, field: owner}\n      members: {type: list, field: members}\n"
    rules = OWNER_RULE.replace(
        "resource.owner == subject.id",
        "resource.owner == subject.id or subject.id in resource.members",
    )
    owner, stranger = people["owner"], people["stranger"]
    shared = Row.objects.create(owner=owner, name="shared")
    shared.members.set([owner, stranger, people["staff"]])
    theirs = Row.objects.create(owner=stranger, name="theirs")
    theirs.members.set([owner])
    Row.objects.create(owner=stranger, name="other").members.set([stranger])
    request = RequestFactory().get("/")
    request.user = User.objects.get(pk=owner.pk)
    with override_settings(AUTHZGUARD_POLICY_PATHS=[_write(tmp_path, attrs, rules)]):
        with CaptureQueriesContext(connection) as queries:
            found = list(authzguard.filter_queryset(request, "list", Row.objects.all()))
        assert len(queries.captured_queries) == 1, queries.captured_queries
        assert sorted(row.name for row in found) == ["shared", "theirs"]
        assert {row.pk for row in found} == _decided(owner, "list")
