"""The example app's DRF viewsets (issue 12.2), through the test client: a real
``ModelViewSet`` keyed by viewset action, asked by the owner, a team member, finance, an
admin, a stranger and an anonymous caller. Creating an invoice is decided on its project.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

pytest.importorskip("rest_framework")
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from tests.projectapp.api import ProjectViewSet
from tests.projectapp.fixtures import PEOPLE, POLICY, signed_in
from tests.projectapp.models import Invoice, Project

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.projectapp.urls")]


@pytest.fixture(autouse=True)
def projects_policy() -> Any:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICY]):
        yield


def client_for(people: dict[str, User | None], who: str) -> APIClient:
    return signed_in(APIClient(), people[who])


def only(who: str, *allowed: str, yes: int = 200) -> int:
    return yes if who in allowed else 403


# -- detail actions: the per-object decision ------------------------------------------------


@pytest.mark.parametrize("who", PEOPLE)
def test_retrieve(people: dict[str, User | None], project: Project, who: str) -> None:
    response = client_for(people, who).get(f"/api/projects/{project.pk}/")
    assert response.status_code == only(who, "owner", "member")  # the team views it
    if who in ("owner", "member"):
        assert response.json() == {
            "id": project.pk,
            "name": "Apollo",
            "owner": project.owner_id,
            "archived": False,
        }
    if who == "anonymous":
        assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("who", PEOPLE)
def test_update_and_partial_update(
    people: dict[str, User | None], project: Project, who: str
) -> None:
    client = client_for(people, who)
    url = f"/api/projects/{project.pk}/"
    patched = client.patch(url, {"name": "Artemis"}, format="json")
    assert patched.status_code == only(who, "owner")
    put = client.put(url, {"name": "Gemini"}, format="json")
    assert put.status_code == only(who, "owner")
    project.refresh_from_db()
    assert project.name == ("Gemini" if who == "owner" else "Apollo")


@pytest.mark.parametrize("who", PEOPLE)
def test_destroy(people: dict[str, User | None], project: Project, who: str) -> None:
    response = client_for(people, who).delete(f"/api/projects/{project.pk}/")
    assert response.status_code == only(who, "admin", yes=204)
    assert Project.objects.filter(pk=project.pk).exists() == (who != "admin")


@pytest.mark.parametrize("who", PEOPLE)
def test_an_extra_action_is_keyed_by_its_name(
    people: dict[str, User | None], project: Project, who: str
) -> None:
    response = client_for(people, who).post(f"/api/projects/{project.pk}/archive/")
    assert response.status_code == only(who, "owner")
    project.refresh_from_db()
    assert project.archived == (who == "owner")


def test_nobody_updates_an_archived_project(
    people: dict[str, User | None], project: Project
) -> None:
    project.archived = True
    project.save()
    owner = client_for(people, "owner")
    url = f"/api/projects/{project.pk}/"
    assert owner.patch(url, {"name": "X"}, format="json").status_code == 403
    assert owner.post(f"{url}archive/").status_code == 403
    assert owner.get(url).status_code == 200  # viewing is not editing
    project.refresh_from_db()
    assert project.name == "Apollo"


def test_detail_denials_hide_existence(people: dict[str, User | None], project: Project) -> None:
    stranger = client_for(people, "stranger")
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=True):
        hidden = stranger.get(f"/api/projects/{project.pk}/")
        missing = stranger.get(f"/api/projects/{project.pk + 100}/")
        gone = stranger.patch(f"/api/projects/{project.pk}/", {"name": "X"}, format="json")
    assert hidden.status_code == missing.status_code == gone.status_code == 404
    assert hidden.content == missing.content
    assert client_for(people, "owner").get("/api/projects/abc/").status_code in (400, 404)


def test_methods_no_action_serves_are_refused(
    people: dict[str, User | None], invoice: Invoice
) -> None:
    """The invoice viewset has no update or destroy: DRF answers 405, nothing changes."""
    finance = client_for(people, "finance")
    url = f"/api/invoices/{invoice.pk}/"
    assert finance.put(url, {"amount": "1"}, format="json").status_code == 405
    assert finance.delete(url).status_code == 405
    assert Invoice.objects.get(pk=invoice.pk).amount == Decimal("120.00")


@pytest.mark.parametrize("who", PEOPLE)
def test_invoice_retrieve(people: dict[str, User | None], invoice: Invoice, who: str) -> None:
    response = client_for(people, who).get(f"/api/invoices/{invoice.pk}/")
    assert response.status_code == only(who, "owner", "member", "finance")
    if response.status_code == 200:
        assert response.json()["amount"] == "120.00"


class ProjectsByMethod(ProjectViewSet):
    """The shape docs/views.md once showed: GET stood for list and retrieve alike."""

    authz_actions = {"GET": "view", "PATCH": "update", "DELETE": "delete"}  # type: ignore[assignment]


def test_a_viewset_keyed_by_method_is_refused_not_decided_as_another_action(
    people: dict[str, User | None], project: Project
) -> None:
    """Regression: ``{"GET": "view"}`` decided the list as ``view`` without an object
    (so the owners' rule denied it); a viewset's keys are action names (E036)."""
    factory = APIRequestFactory()
    for actions, url, kwargs in (
        ({"get": "list"}, "/api/projects/", {}),
        ({"get": "retrieve"}, f"/api/projects/{project.pk}/", {"pk": str(project.pk)}),
    ):
        request = factory.get(url)
        force_authenticate(request, user=people["owner"])
        response = ProjectsByMethod.as_view(actions)(request, **kwargs)
        assert response.status_code == 405, url


# -- creating ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", PEOPLE)
def test_create_without_a_parent(people: dict[str, User | None], who: str) -> None:
    response = client_for(people, who).post("/api/projects/", {"name": "New"}, format="json")
    assert response.status_code == (403 if who == "anonymous" else 201)
    made = [p.owner for p in Project.objects.filter(name="New")]
    assert made == ([] if who == "anonymous" else [people[who]])


@pytest.mark.parametrize("who", PEOPLE)
def test_create_is_authorized_against_the_parent(
    people: dict[str, User | None], project: Project, who: str
) -> None:
    """Regression: a create was decided on the kind alone, so no owner could bill."""
    data = {"project": project.pk, "amount": "9.50", "status": "draft"}
    response = client_for(people, who).post("/api/invoices/", data, format="json")
    assert response.status_code == only(who, "owner", yes=201)
    assert Invoice.objects.filter(amount=Decimal("9.50")).count() == (who == "owner")
    # A form body is read the same way.
    form = client_for(people, who).post("/api/invoices/", {**data, "amount": "3.00"})
    assert form.status_code == only(who, "owner", yes=201)


def test_nobody_bills_an_archived_project(people: dict[str, User | None], project: Project) -> None:
    project.archived = True
    project.save()
    data = {"project": project.pk, "amount": "5", "status": "draft"}
    assert (
        client_for(people, "owner").post("/api/invoices/", data, format="json").status_code == 403
    )
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("body", "query", "expected"),
    [
        ({"amount": "1"}, "", 400),  # no parent
        ({"project": "abc", "amount": "1"}, "", 400),
        ({"project": "07", "amount": "1"}, "", 400),
        ({"project": None, "amount": "1"}, "", 400),
        ({"project": [1], "amount": "1"}, "", 400),
        ({"project": True, "amount": "1"}, "", 400),
        ({"project": 2**70, "amount": "1"}, "", 400),
        ({"project": 9999, "amount": "1"}, "", 404),
        ({"project": "PARENT", "amount": "1"}, "?project=PARENT", 400),  # named twice
    ],
)
def test_parent_parameters_are_validated(
    people: dict[str, User | None],
    project: Project,
    body: dict[str, Any],
    query: str,
    expected: int,
) -> None:
    body = {k: (project.pk if v == "PARENT" else v) for k, v in body.items()}
    query = query.replace("PARENT", str(project.pk))
    owner = client_for(people, "owner")
    assert owner.post(f"/api/invoices/{query}", body, format="json").status_code == expected
    assert not Invoice.objects.exists()


def test_malformed_bodies_are_refused_before_any_lookup(
    people: dict[str, User | None], project: Project
) -> None:
    owner = client_for(people, "owner")
    broken = owner.post("/api/invoices/", "{", content_type="application/json")
    assert broken.status_code == 400
    listed = owner.post("/api/invoices/", "[1]", content_type="application/json")
    assert listed.status_code == 400
    assert not Invoice.objects.exists()


def test_the_parent_authorized_is_the_parent_saved(
    people: dict[str, User | None], project: Project
) -> None:
    """A JSON body naming the parent twice is parsed once, by DRF: the key authorized is
    the key the serializer saves (the last), never another project."""
    theirs = Project.objects.create(owner=people["stranger"], name="Theirs")
    owner = client_for(people, "owner")
    body = f'{{"project": {project.pk}, "amount": "1", "project": {theirs.pk}}}'
    assert owner.post("/api/invoices/", body, content_type="application/json").status_code == 403
    body = f'{{"project": {theirs.pk}, "amount": "1", "project": {project.pk}}}'
    assert owner.post("/api/invoices/", body, content_type="application/json").status_code == 201
    assert [i.project for i in Invoice.objects.all()] == [project]


# -- lists: narrowed by the policy (AuthzGuardFilterBackend) -------------------------------


@pytest.fixture
def theirs(db: None) -> Invoice:
    """Another owner's project and invoice (that owner is none of PEOPLE)."""
    project = Project.objects.create(owner=User.objects.create_user("otto"), name="Zeus")
    return Invoice.objects.create(project=project, amount=Decimal("75.00"))


def decided(user: User | None, action: str, objects: Any, kind: str) -> set[int]:
    """What ``decide()`` allows one object at a time: what the list must hold."""
    from django.contrib.auth.models import AnonymousUser

    from authzguard.backends import allows

    return {obj.pk for obj in objects if allows(user or AnonymousUser(), action, kind, obj)}


#: Owners and team members list their projects and invoices; finance every invoice.
PROJECT_LIST = {"owner": {"Apollo"}, "member": {"Apollo"}}
INVOICE_LIST = {"owner": {"120.00"}, "member": {"120.00"}, "finance": {"120.00", "75.00"}}


@pytest.mark.parametrize("who", PEOPLE)
def test_lists_hold_exactly_what_the_policy_allows(
    people: dict[str, User | None], invoice: Invoice, theirs: Invoice, who: str
) -> None:
    client = client_for(people, who)
    projects, invoices = client.get("/api/projects/"), client.get("/api/invoices/")
    if who == "anonymous":  # no allow rule could cover them: the ordinary denial
        assert projects.status_code == invoices.status_code == 403
        return
    assert projects.status_code == invoices.status_code == 200
    assert {p["name"] for p in projects.json()} == PROJECT_LIST.get(who, set())
    assert {i["amount"] for i in invoices.json()} == INVOICE_LIST.get(who, set())
    user = people[who]
    assert {p["id"] for p in projects.json()} == decided(
        user, "list", Project.objects.all(), "project"
    )
    assert {i["id"] for i in invoices.json()} == decided(
        user, "list", Invoice.objects.all(), "invoice"
    )


def test_lists_are_filtered_and_detail_actions_keep_their_decision(
    people: dict[str, User | None], invoice: Invoice, theirs: Invoice
) -> None:
    """The filter backend narrows ``list`` only: a detail URL outside the list is still
    decided on its object (403, or the same 404 as a missing one when hidden)."""
    owner = client_for(people, "owner")
    assert owner.get(f"/api/invoices/{theirs.pk}/").status_code == 403
    assert owner.get(f"/api/projects/{theirs.project_id}/").status_code == 403
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=True):
        hidden = owner.get(f"/api/projects/{theirs.project_id}/")
        missing = owner.get(f"/api/projects/{theirs.project_id + 100}/")
        listed = owner.get("/api/projects/")
    assert hidden.status_code == missing.status_code == 404
    assert [p["name"] for p in listed.json()] == ["Apollo"]


# -- queries ------------------------------------------------------------------------------


def app_queries(client: APIClient, method: str, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url)
    sqls = [
        q["sql"]
        for q in captured.captured_queries
        if "projectapp_" in q["sql"] or "auth_group" in q["sql"]
    ]
    return response.status_code, sqls


def test_a_detail_action_costs_the_lookup_and_the_group_query_only(
    people: dict[str, User | None], project: Project, invoice: Invoice
) -> None:
    owner, finance = client_for(people, "owner"), client_for(people, "finance")
    # project.view: the groups (a condition reads subject.groups), the project, and its
    # team (the one to-many attribute its rules read).
    code, sqls = app_queries(owner, "get", f"/api/projects/{project.pk}/")
    assert code == 200 and len(sqls) == 3, sqls
    assert "auth_group" in sqls[0] and "projectapp_project_team" in sqls[2]
    # invoice.view: the groups (finance), the invoice with its project joined, the team.
    for client in (owner, finance):
        code, sqls = app_queries(client, "get", f"/api/invoices/{invoice.pk}/")
        assert code == 200 and len(sqls) == 3, sqls
        assert "auth_group" in sqls[0] and "projectapp_project_team" in sqls[2]


@pytest.mark.parametrize("who", ["owner", "member", "finance", "stranger"])
def test_a_list_costs_one_query_and_the_group_query_where_it_matters(
    people: dict[str, User | None], invoice: Invoice, theirs: Invoice, who: str
) -> None:
    client = client_for(people, who)
    # project.list has no group-granted rule: the one list query (the team is a subquery).
    code, sqls = app_queries(client, "get", "/api/projects/")
    assert code == 200 and len(sqls) == 1 and "projectapp_project" in sqls[0], sqls
    # invoice.list has one (finance): the group query, then the one list query.
    code, sqls = app_queries(client, "get", "/api/invoices/")
    assert code == 200 and len(sqls) == 2, sqls
    assert "auth_group" in sqls[0] and "projectapp_invoice" in sqls[1]
