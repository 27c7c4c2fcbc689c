"""Relations in attributes and subject.groups, through real requests (issue 12.3).

The example app's policy (tests/projectapp/policies/projects.yaml) reads a project's
team (``members: {type: list, field: team}``), an invoice's project owner and team
across the project (``project.owner``, ``project__team``) and the subject's groups
(``"finance" in subject.groups``). Each is asked through the decorator, the mixin and
the DRF permission, by the owner, a team member, finance, an admin, a stranger and an
anonymous visitor, with both engines; the queries each request costs are pinned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.projectapp.fixtures import PEOPLE, POLICY, client_for, make_people, make_project
from tests.projectapp.models import Invoice, Project

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.relations_urls")]

#: The same object behind each adapter: URL prefixes of tests/relations_urls.py.
ADAPTERS = {"decorator": "/fn", "mixin": "", "drf": "/drf"}
MISSING = 987654


@pytest.fixture(autouse=True, params=["indexed", "casbin"])
def projects_policy(request: pytest.FixtureRequest) -> Iterator[str]:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICY], AUTHZGUARD_ENGINE=request.param):
        yield str(request.param)


@pytest.fixture
def people(db: None) -> dict[str, User | None]:
    # Finance is in a second group as well: subject.groups is a list, not one name.
    return make_people(finance_groups=("finance", "ops"))


@pytest.fixture
def project(people: dict[str, User | None]) -> Project:
    # Another member first: the list holds every key, not only the first.
    return make_project(people, User.objects.create_user("zoe"))


def status(response: Any) -> int | str:
    """The status; a refused anonymous visitor is sent to sign in (DRF: 403)."""
    if response.status_code == 302 and "/login/" in response["Location"]:
        return "login"
    return int(response.status_code)


def refused(who: str, adapter: str) -> int | str:
    return 403 if who != "anonymous" or adapter == "drf" else "login"


def app_queries(client: Client, url: str) -> tuple[Any, list[str]]:
    """The response and every query after the session's and the signed-in user's."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    sqls = [q["sql"] for q in captured.captured_queries]
    assert 'FROM "django_session"' in sqls[0] and 'FROM "auth_user"' in sqls[1], sqls
    return response, sqls[2:]


# -- who sees what ------------------------------------------------------------------------

PROJECT_VIEW = {"owner", "member"}
INVOICE_VIEW = {"owner", "member", "finance"}


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("who", PEOPLE)
def test_team_members_view_the_project(
    people: dict[str, User | None], project: Project, who: str, adapter: str
) -> None:
    response = client_for(people, who).get(f"{ADAPTERS[adapter]}/projects/{project.pk}/")
    assert status(response) == (200 if who in PROJECT_VIEW else refused(who, adapter))


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("who", PEOPLE)
def test_invoices_across_the_project(
    people: dict[str, User | None], invoice: Invoice, who: str, adapter: str
) -> None:
    """The project's owner (``project.owner``) and team (``project__team``), and finance."""
    response = client_for(people, who).get(f"{ADAPTERS[adapter]}/invoices/{invoice.pk}/")
    assert status(response) == (200 if who in INVOICE_VIEW else refused(who, adapter))


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_finance_views_archived_projects_by_group(
    people: dict[str, User | None], project: Project, adapter: str
) -> None:
    """``"finance" in subject.groups`` holds for finance only, and only once archived."""
    url = f"{ADAPTERS[adapter]}/projects/{project.pk}/"
    finance, stranger = client_for(people, "finance"), client_for(people, "stranger")
    assert status(finance.get(url)) == 403
    Project.objects.filter(pk=project.pk).update(archived=True)
    assert status(finance.get(url)) == 200
    assert status(stranger.get(url)) == 403
    # Leaving the group takes effect on the next request.
    people["finance"].groups.remove(Group.objects.get(name="finance"))  # type: ignore[union-attr]
    assert status(finance.get(url)) == 403


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_leaving_the_team_takes_effect_on_the_next_request(
    people: dict[str, User | None], project: Project, adapter: str
) -> None:
    client = client_for(people, "member")
    url = f"{ADAPTERS[adapter]}/projects/{project.pk}/"
    assert status(client.get(url)) == 200
    project.team.remove(people["member"])  # type: ignore[misc]
    assert status(client.get(url)) == 403


def test_team_members_never_edit(people: dict[str, User | None], project: Project) -> None:
    client = client_for(people, "member")
    assert status(client.get(f"/projects/{project.pk}/edit/")) == 403
    assert status(client.post(f"/projects/{project.pk}/edit/", {"name": "X"})) == 403
    project.refresh_from_db()
    assert project.name == "Apollo"


def test_an_async_view_reads_the_team(people: dict[str, User | None], project: Project) -> None:
    client = AsyncClient()
    client.force_login(people["member"])  # type: ignore[arg-type]
    response = async_to_sync(client.get)(f"/projects/{project.pk}/rename/")
    assert response.status_code == 200 and response.json() == {"name": "Apollo"}
    client.force_login(people["stranger"])  # type: ignore[arg-type]
    assert async_to_sync(client.get)(f"/projects/{project.pk}/rename/").status_code == 403


# -- what a request costs --------------------------------------------------------------------


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("who", ["owner", "member", "stranger", "finance"])
def test_queries_are_the_lookup_groups_and_one_per_list(
    people: dict[str, User | None], project: Project, invoice: Invoice, who: str, adapter: str
) -> None:
    """Viewing a project: its lookup, the groups (a condition reads subject.groups), the
    team. Viewing an invoice: the groups (finance is a group role), the invoice with its
    project joined (``project.owner`` read from the joined row, no query), the team.
    A DRF view that is allowed then runs its own ``get_object()``: one query of its own."""
    client = client_for(people, who)
    prefix = ADAPTERS[adapter]
    response, sqls = app_queries(client, f"{prefix}/projects/{project.pk}/")
    allowed = who in PROJECT_VIEW
    assert status(response) == (200 if allowed else 403)
    assert len(sqls) == 3 + (adapter == "drf" and allowed), sqls
    assert "auth_group" in sqls[0] and "projectapp_project_team" in sqls[2]
    response, sqls = app_queries(client, f"{prefix}/invoices/{invoice.pk}/")
    allowed = who in INVOICE_VIEW
    assert status(response) == (200 if allowed else 403)
    assert len(sqls) == 3 + (adapter == "drf" and allowed), sqls
    assert "auth_group" in sqls[0]
    assert "projectapp_invoice" in sqls[1] and "JOIN" in sqls[1].upper()
    assert "projectapp_project_team" in sqls[2]


def test_an_action_whose_rules_read_no_list_does_not_query_it(
    people: dict[str, User | None], project: Project
) -> None:
    """Editing reads no ``members``: the lookup alone (no group rule either)."""
    response, sqls = app_queries(client_for(people, "owner"), f"/projects/{project.pk}/edit/")
    assert response.status_code == 200
    assert len(sqls) == 1 and "projectapp_project_team" not in sqls[0], sqls


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("kind", ["projects", "invoices"])
def test_a_missing_object_costs_what_a_forbidden_one_does(
    people: dict[str, User | None], invoice: Invoice, adapter: str, kind: str
) -> None:
    """With existence hidden, the to-many query runs for a missing object too: counting
    queries cannot tell "forbidden" from "no such object"."""
    client = client_for(people, "stranger")
    prefix = ADAPTERS[adapter]
    pk = invoice.pk if kind == "invoices" else invoice.project_id
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=True):
        forbidden, seen = app_queries(client, f"{prefix}/{kind}/{pk}/")
        missing, unseen = app_queries(client, f"{prefix}/{kind}/{MISSING}/")
    assert forbidden.status_code == missing.status_code == 404
    assert len(seen) == len(unseen) == 3, (seen, unseen)
    assert [s.split(" FROM ")[1][:30] for s in seen] == [s.split(" FROM ")[1][:30] for s in unseen]
    assert forbidden.content == missing.content
