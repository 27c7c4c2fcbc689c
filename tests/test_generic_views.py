"""Django's generic views with ``AuthorizeMixin``, through the test client (issue 12.1).

The example app (tests/projectapp): owners edit their project, nobody edits an archived
one, finance views every invoice, admins delete. Each view is asked by the owner, a team
member, finance, an admin, a stranger and an anonymous visitor.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import connection
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.projectapp.fixtures import PEOPLE, POLICY, client_for
from tests.projectapp.models import Invoice, Project

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.projectapp.urls")]


@pytest.fixture(autouse=True)
def projects_policy() -> Any:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICY]):
        yield


def status(response: Any) -> int | str:
    """The status, with the login redirect named (anonymous visitors are sent to sign in)."""
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/"):
        return "login"
    return int(response.status_code)


def shown_exactly_to_who_may_submit(
    client: Client, url: str, data: dict[str, str], expected: int | str, post_url: str = ""
) -> Any:
    """GET ``url`` answers ``expected``; POSTing ``data`` redirects when the form was shown
    (200) and is refused alike otherwise. Returns the GET's response."""
    shown = client.get(url)
    assert status(shown) == expected
    submitted = client.post(post_url or url, data)
    assert status(submitted) == (302 if expected == 200 else expected)
    return shown


# -- UpdateView: the form's GET is allowed exactly when its POST is --------------------------

EDIT = {
    "owner": 200,
    "member": 403,  # team members view, never edit
    "finance": 403,
    "admin": 403,  # admins delete; editing is the owner's
    "stranger": 403,
    "anonymous": "login",
}


@pytest.mark.parametrize("who", PEOPLE)
def test_update_view_shows_its_form_exactly_to_who_may_submit_it(
    people: dict[str, User | None], project: Project, who: str
) -> None:
    """Regression: ``GET /projects/1/edit/`` was a 405 for everyone."""
    client = client_for(people, who)
    url = f"/projects/{project.pk}/edit/"
    shown = shown_exactly_to_who_may_submit(client, url, {"name": "Artemis"}, EDIT[who])
    if who == "owner":
        assert b'name="name"' in shown.content and b"Apollo" in shown.content
    project.refresh_from_db()
    assert project.name == ("Artemis" if who == "owner" else "Apollo")


def test_head_follows_get_and_other_methods_stay_refused(
    people: dict[str, User | None], project: Project
) -> None:
    owner, stranger = client_for(people, "owner"), client_for(people, "stranger")
    assert owner.head(f"/projects/{project.pk}/edit/").status_code == 200
    assert stranger.head(f"/projects/{project.pk}/edit/").status_code == 403
    for method in ("put", "patch", "options"):
        refused = getattr(owner, method)(f"/projects/{project.pk}/edit/")
        assert refused.status_code == 405, method
    project.refresh_from_db()
    assert project.name == "Apollo"


def test_nobody_edits_an_archived_project_nor_sees_its_form(
    people: dict[str, User | None], project: Project
) -> None:
    project.archived = True
    project.save()
    owner = client_for(people, "owner")
    assert owner.get(f"/projects/{project.pk}/edit/").status_code == 403
    assert owner.post(f"/projects/{project.pk}/edit/", {"name": "X"}).status_code == 403
    assert owner.get(f"/projects/{project.pk}/archive/").status_code == 403
    project.refresh_from_db()
    assert project.name == "Apollo"
    # Viewing is not editing: the owner still sees it.
    assert owner.get(f"/projects/{project.pk}/").status_code == 200


def test_denials_hide_existence_and_never_reveal_the_policy(
    people: dict[str, User | None], project: Project
) -> None:
    stranger = client_for(people, "stranger")
    forbidden = stranger.get(f"/projects/{project.pk}/edit/")
    assert forbidden.status_code == 403
    assert b"owners-use-projects" not in forbidden.content and b"owner" not in forbidden.content
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=True):
        hidden = stranger.get(f"/projects/{project.pk}/edit/")
        missing = stranger.get(f"/projects/{project.pk + 100}/edit/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content


# -- DeleteView -------------------------------------------------------------------------------

DELETE = {
    "owner": 403,
    "member": 403,
    "finance": 403,
    "admin": 200,
    "stranger": 403,
    "anonymous": "login",
}


@pytest.mark.parametrize("who", PEOPLE)
def test_delete_view_confirms_and_deletes_for_admins_only(
    people: dict[str, User | None], project: Project, who: str
) -> None:
    client = client_for(people, who)
    url = f"/projects/{project.pk}/delete/"
    confirm = shown_exactly_to_who_may_submit(client, url, {}, DELETE[who])
    if who == "admin":
        assert b"Delete Apollo?" in confirm.content
    assert Project.objects.filter(pk=project.pk).exists() == (who != "admin")


def test_delete_view_answers_http_delete_too(
    people: dict[str, User | None], project: Project
) -> None:
    assert client_for(people, "owner").delete(f"/projects/{project.pk}/delete/").status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()
    assert client_for(people, "admin").delete(f"/projects/{project.pk}/delete/").status_code == 302
    assert not Project.objects.filter(pk=project.pk).exists()


# -- FormView, DetailView, CreateView, ListView ---------------------------------------------


@pytest.mark.parametrize("who", PEOPLE)
def test_form_view_about_an_object(
    people: dict[str, User | None], project: Project, who: str
) -> None:
    client = client_for(people, who)
    expected = EDIT[who]  # archiving is the owner's, like editing
    url = f"/projects/{project.pk}/archive/"
    shown = shown_exactly_to_who_may_submit(client, url, {"confirm": "on"}, expected)
    if who == "owner":
        assert b"Archive Apollo?" in shown.content
    project.refresh_from_db()
    assert project.archived == (who == "owner")


VIEW = {
    "owner": 200,
    "member": 200,  # team members view (subject.id in resource.members)
    "finance": 403,
    "admin": 403,
    "stranger": 403,
    "anonymous": "login",
}


@pytest.mark.parametrize("who", PEOPLE)
def test_detail_view(people: dict[str, User | None], project: Project, who: str) -> None:
    response = client_for(people, who).get(f"/projects/{project.pk}/")
    assert status(response) == VIEW[who]
    if who == "owner":
        assert b"<h1>Apollo</h1>" in response.content


@pytest.mark.parametrize("who", PEOPLE)
def test_create_view_without_a_parent(people: dict[str, User | None], who: str) -> None:
    client = client_for(people, who)
    expected = "login" if who == "anonymous" else 200
    assert status(client.get("/projects/new/")) == expected
    created = client.post("/projects/new/", {"name": f"New {who}"})
    assert status(created) == ("login" if who == "anonymous" else 302)
    made = Project.objects.filter(name=f"New {who}")
    assert [p.owner for p in made] == ([] if who == "anonymous" else [people[who]])


INVOICE_DETAIL = {
    "owner": 200,  # the project's owner
    "member": 200,  # the project's team (resource.project_team, across the project)
    "finance": 200,  # finance views every invoice
    "admin": 403,
    "stranger": 403,
    "anonymous": "login",
}


@pytest.mark.parametrize("who", PEOPLE)
def test_invoice_detail(people: dict[str, User | None], invoice: Invoice, who: str) -> None:
    response = client_for(people, who).get(f"/invoices/{invoice.pk}/")
    assert status(response) == INVOICE_DETAIL[who]
    if response.status_code == 200:
        assert b"Apollo: 120.00 (draft)" in response.content


@pytest.fixture
def theirs(db: None) -> Invoice:
    """Another owner's project and invoice (that owner is none of PEOPLE)."""
    project = Project.objects.create(owner=User.objects.create_user("otto"), name="Zeus")
    return Invoice.objects.create(project=project, amount=Decimal("75.00"))


#: What each list page shows (AuthorizedListMixin: filtered by the policy in SQL).
PROJECT_LIST = {"owner": ["Apollo"], "member": ["Apollo"]}
INVOICE_LIST = {"owner": ["120.00"], "member": ["120.00"], "finance": ["120.00", "75.00"]}


@pytest.mark.parametrize("who", PEOPLE)
def test_list_views_show_exactly_what_the_policy_allows(
    people: dict[str, User | None], invoice: Invoice, theirs: Invoice, who: str
) -> None:
    client = client_for(people, who)
    projects, invoices = client.get("/projects/"), client.get("/invoices/")
    if who == "anonymous":  # no allow rule could cover them: sent to sign in
        assert status(projects) == status(invoices) == "login"
        return
    assert projects.status_code == invoices.status_code == 200
    assert [p.name for p in projects.context["object_list"]] == PROJECT_LIST.get(who, [])
    amounts = sorted(str(i.amount) for i in invoices.context["object_list"])
    assert amounts == INVOICE_LIST.get(who, [])
    for amount in {"120.00", "75.00"} - set(amounts):
        assert f"<li>{amount}</li>".encode() not in invoices.content


# -- creating against the parent --------------------------------------------------------------

ADD_INVOICE = {
    "owner": 200,
    "member": 403,
    "finance": 403,
    "admin": 403,
    "stranger": 403,
    "anonymous": "login",
}


@pytest.mark.parametrize("who", PEOPLE)
def test_create_is_authorized_against_the_parent(
    people: dict[str, User | None], project: Project, who: str
) -> None:
    client = client_for(people, who)
    shown = shown_exactly_to_who_may_submit(
        client,
        f"/invoices/new/?project={project.pk}",
        {"project": str(project.pk), "amount": "9.50", "status": "draft"},
        ADD_INVOICE[who],
        post_url="/invoices/new/",
    )
    if who == "owner":
        # The parent named in the query string is preselected.
        assert f'<option value="{project.pk}" selected>'.encode() in shown.content
    assert Invoice.objects.filter(amount=Decimal("9.50")).count() == (who == "owner")


BILLABLE = {"owner": ["Apollo"]}  # their project; not their archived one, nor another's


@pytest.mark.parametrize("who", PEOPLE)
def test_the_create_form_without_a_parent_offers_the_parents_the_user_may_bill(
    people: dict[str, User | None], project: Project, theirs: Invoice, who: str
) -> None:
    """Regression: with no ``?project=`` the form was refused (400); it is shown with
    the project choices filtered by the policy (add_invoice on project), in SQL."""
    Project.objects.create(owner=project.owner, name="Old", archived=True)
    client = client_for(people, who)
    shown = client.get("/invoices/new/")
    if who == "anonymous":
        assert status(shown) == "login"
        return
    assert shown.status_code == 200
    choices = shown.context["form"].fields["project"].queryset
    assert [p.name for p in choices] == BILLABLE.get(who, [])
    for name in {"Apollo", "Zeus", "Old"} - set(BILLABLE.get(who, [])):
        assert f">{name}</option>".encode() not in shown.content
    # What is offered is what may be submitted.
    for offered in Project.objects.all():
        data = {"project": str(offered.pk), "amount": "1.00", "status": "draft"}
        posted = client.post("/invoices/new/", data)
        assert (posted.status_code == 302) == (offered.name in BILLABLE.get(who, [])), offered


def test_the_create_form_offers_only_billable_parents_when_one_is_named(
    people: dict[str, User | None], project: Project, theirs: Invoice
) -> None:
    """The form for ``?project=`` lists no other owner's project either."""
    shown = client_for(people, "owner").get(f"/invoices/new/?project={project.pk}")
    assert shown.status_code == 200
    assert [p.name for p in shown.context["form"].fields["project"].queryset] == ["Apollo"]
    assert b">Zeus</option>" not in shown.content


def test_parent_choices_that_cannot_become_sql_are_a_startup_error(tmp_path: Path) -> None:
    from authzguard.filter_checks import check_filtering

    assert check_filtering() == []
    policy = tmp_path / "projects.yaml"
    policy.write_text(
        POLICY.read_text().replace(
            "      archived: {type: bool}\n",
            "      archived: {type: bool}\n      label: {type: any, field: name}\n",
        )
        + "  - {id: labelled, effect: allow, subjects: [authenticated], actions: [add_invoice],"
        ' resource: project, when: resource.label == "open"}\n'
    )
    with override_settings(AUTHZGUARD_POLICY_PATHS=[policy]):
        found = check_filtering()
    assert [(m.id, m.obj) for m in found] == [("authzguard.E071", "invoice-create")]
    assert "'project' lists for 'add_invoice'" in found[0].msg and "'labelled'" in found[0].msg


def test_create_form_parent_parameters_are_validated(
    people: dict[str, User | None], project: Project
) -> None:
    owner = client_for(people, "owner")
    assert owner.get("/invoices/new/?project=").status_code == 400
    assert owner.get("/invoices/new/?project=abc").status_code == 400
    assert owner.get(f"/invoices/new/?project={project.pk}&project=1").status_code == 400
    assert owner.get("/invoices/new/?project=9999").status_code == 404
    assert owner.post("/invoices/new/", {"amount": "1", "status": "draft"}).status_code == 400
    assert owner.post("/invoices/new/", {"project": "07", "amount": "1"}).status_code == 400
    gone = owner.post("/invoices/new/", {"project": "9999", "amount": "1", "status": "draft"})
    assert gone.status_code == 404
    assert not Invoice.objects.exists()


def test_nobody_bills_an_archived_project(people: dict[str, User | None], project: Project) -> None:
    project.archived = True
    project.save()
    owner = client_for(people, "owner")
    assert owner.get(f"/invoices/new/?project={project.pk}").status_code == 403
    data = {"project": str(project.pk), "amount": "5", "status": "draft"}
    assert owner.post("/invoices/new/", data).status_code == 403
    assert not Invoice.objects.exists()


def test_a_parent_in_the_query_string_does_not_authorize_another_in_the_body(
    people: dict[str, User | None], project: Project
) -> None:
    """The submission is decided on the body's parent, the one the form saves: a parent
    also named in the query string is refused, whichever it is."""
    theirs = Project.objects.create(owner=people["stranger"], name="Theirs")
    owner = client_for(people, "owner")
    data = {"project": str(theirs.pk), "amount": "5", "status": "draft"}
    assert owner.post(f"/invoices/new/?project={project.pk}", data).status_code == 400
    assert owner.post("/invoices/new/", data).status_code == 403
    assert not Invoice.objects.exists()


# -- one action per method, async ------------------------------------------------------------


def test_async_view_with_one_action_per_method(
    people: dict[str, User | None], project: Project
) -> None:
    # Through the ASGI handler; async_to_sync keeps the ORM on the test's connection.
    async_to_sync(_rename_checks)(people, project)


async def _rename_checks(people: dict[str, User | None], project: Project) -> None:
    owner, stranger = AsyncClient(), AsyncClient()
    await owner.aforce_login(people["owner"])
    await stranger.aforce_login(people["stranger"])
    url = f"/projects/{project.pk}/rename/"
    assert (await owner.get(url)).json() == {"name": "Apollo"}
    assert (await owner.post(url, {"name": "Gemini"})).json() == {"name": "Gemini"}
    assert (await stranger.get(url)).status_code == 403
    assert (await stranger.post(url, {"name": "Mercury"})).status_code == 403
    refused = await owner.put(url)
    assert refused.status_code == 405 and refused["Allow"] == "GET, HEAD, POST"
    await project.arefresh_from_db()
    assert project.name == "Gemini"


def test_generic_update_view_under_asgi(people: dict[str, User | None], project: Project) -> None:
    async_to_sync(_update_checks)(people, project)


async def _update_checks(people: dict[str, User | None], project: Project) -> None:
    owner, stranger = AsyncClient(), AsyncClient()
    await owner.aforce_login(people["owner"])
    await stranger.aforce_login(people["stranger"])
    assert (await owner.get(f"/projects/{project.pk}/edit/")).status_code == 200
    assert (await stranger.get(f"/projects/{project.pk}/edit/")).status_code == 403
    posted = await owner.post(f"/projects/{project.pk}/edit/", {"name": "Orion"})
    assert posted.status_code == 302
    await project.arefresh_from_db()
    assert project.name == "Orion"


# -- queries ----------------------------------------------------------------------------------


def app_queries(client: Client, method: str, url: str, data: Any = None) -> tuple[int, list[str]]:
    """The status and the queries on the app's tables and on groups, for one request."""
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
    sqls = [
        q["sql"]
        for q in captured.captured_queries
        if "projectapp_" in q["sql"] or "auth_group" in q["sql"]
    ]
    return response.status_code, sqls


def test_the_object_is_fetched_once(
    people: dict[str, User | None], project: Project, invoice: Invoice
) -> None:
    """The detail lookup, plus one group query where a group-granted role or a condition on
    subject.groups matters, plus one query per to-many attribute the action's rules read."""
    owner, admin, finance = (client_for(people, w) for w in ("owner", "admin", "finance"))
    # Viewing a project reads the groups and the team: three queries.
    code, sqls = app_queries(owner, "get", f"/projects/{project.pk}/")
    assert code == 200 and len(sqls) == 3, sqls
    assert "auth_group" in sqls[0] and "projectapp_project_team" in sqls[2]
    for client, url in (
        (owner, f"/projects/{project.pk}/edit/"),
        (owner, f"/projects/{project.pk}/archive/"),
        (admin, f"/projects/{project.pk}/delete/"),
    ):
        code, sqls = app_queries(client, "get", url)
        assert code == 200 and len(sqls) == 1, (url, sqls)
        assert "auth_group" not in sqls[0]
    # Finance's role comes from a group: one group query, then the invoice with its
    # project joined (the template reads invoice.project.name without a query), then
    # the project's team (resource.project_team).
    code, sqls = app_queries(finance, "get", f"/invoices/{invoice.pk}/")
    assert code == 200 and len(sqls) == 3, sqls
    assert "auth_group" in sqls[0] and "projectapp_invoice" in sqls[1]
    assert "projectapp_project_team" in sqls[2]
    # The form's GET for a parent: the parent's lookup, and the form's choices.
    code, sqls = app_queries(owner, "get", f"/invoices/new/?project={project.pk}")
    assert code == 200 and len(sqls) == 2, sqls
    # A list page: the one list query, after the group query where a group-granted role
    # matters (finance, on invoice.list).
    code, sqls = app_queries(owner, "get", "/projects/")
    assert code == 200 and len(sqls) == 1 and "projectapp_project" in sqls[0], sqls
    for client in (owner, finance):
        code, sqls = app_queries(client, "get", "/invoices/")
        assert code == 200 and len(sqls) == 2, sqls
        assert "auth_group" in sqls[0] and "projectapp_invoice" in sqls[1]
    # The form's GET without a parent: the one query of its filtered choices.
    code, sqls = app_queries(owner, "get", "/invoices/new/")
    assert code == 200 and len(sqls) == 1 and "projectapp_project" in sqls[0], sqls
    # The update's POST: the lookup and the UPDATE, nothing fetched twice.
    code, sqls = app_queries(owner, "post", f"/projects/{project.pk}/edit/", {"name": "Vega"})
    assert code == 302 and len(sqls) == 2 and sqls[1].startswith("UPDATE"), sqls
