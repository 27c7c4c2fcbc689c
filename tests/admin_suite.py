"""Django's admin with ``AuthzGuardAdminMixin`` (tests/projectapp/admin.py), through the
test client. Run by tests/test_admin.py under tests/admin_settings.py (admin installed)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import django
import pytest
from django.contrib.auth.models import Group, User
from django.core.checks import run_checks
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from authzguard.backends import allows
from authzguard.checks import check_enforcement
from tests.projectapp.models import Invoice, Project

pytestmark = pytest.mark.django_db

POLICY = Path(__file__).resolve().parent / "projectapp" / "policies" / "projects.yaml"


@pytest.fixture
def people(db: None) -> dict[str, User]:
    def staff(name: str) -> User:
        return User.objects.create_user(name, password="pw", is_staff=True)

    finance = staff("fiona")
    finance.groups.add(Group.objects.create(name="finance"))
    return {
        "owner": staff("olivia"),
        "member": staff("mike"),
        "finance": finance,
        "admin": User.objects.create_superuser("root", password="pw"),
        "stranger": staff("sam"),
        "outsider": User.objects.create_user("nina", password="pw"),  # not staff
    }


@pytest.fixture
def invoice(people: dict[str, User]) -> Invoice:
    project = Project.objects.create(owner=people["owner"], name="Apollo")
    project.team.add(people["member"])
    return Invoice.objects.create(project=project, amount=Decimal("120.00"))


@pytest.fixture
def theirs(people: dict[str, User]) -> Invoice:
    """Someone else's project and invoice (its owner is not staff), and an archived one."""
    Project.objects.create(owner=people["outsider"], name="Old", archived=True)
    project = Project.objects.create(owner=people["outsider"], name="Zeus")
    return Invoice.objects.create(project=project, amount=Decimal("75.00"))


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_the_admin_passes_every_check_under_deny_by_default() -> None:
    assert check_enforcement() == []
    assert [m.id for m in run_checks() if m.level >= 40] == []


def _decided(user: User, action: str, objects: Any, kind: str) -> set[int]:
    """What ``decide()`` allows one object at a time: what the changelist must hold."""
    return {obj.pk for obj in objects if allows(user, action, kind, obj)}


#: Who sees which rows on the changelists (the view action of each admin).
LISTED = {
    "owner": ({"Apollo"}, {"120.00"}),  # their project, and its invoice
    "member": ({"Apollo"}, {"120.00"}),  # their team's project (a to-many attribute)
    "finance": ({"Old"}, {"120.00", "75.00"}),  # archived projects, every invoice
    "admin": (set(), set()),  # admins delete projects; they view none
    "stranger": (set(), set()),
}


@pytest.mark.parametrize("who", LISTED)
def test_changelists_hold_exactly_the_rows_the_user_may_view(
    people: dict[str, User], invoice: Invoice, theirs: Invoice, who: str
) -> None:
    client = client_for(people[who])
    projects, invoices = LISTED[who]
    listed = client.get("/admin/projectapp/project/")
    assert listed.status_code == 200
    shown = {p.name for p in listed.context["cl"].result_list}
    assert shown == projects
    assert {Project.objects.get(name=n).pk for n in shown} == _decided(
        people[who], "view", Project.objects.all(), "project"
    )
    listed = client.get("/admin/projectapp/invoice/")
    assert listed.status_code == 200
    rows = list(listed.context["cl"].result_list)
    assert {str(i.amount) for i in rows} == invoices
    assert {i.pk for i in rows} == _decided(people[who], "view", Invoice.objects.all(), "invoice")
    for amount in {"120.00", "75.00"} - invoices:
        assert amount.encode() not in listed.content


def test_the_changelist_is_one_query_whatever_the_rows(
    people: dict[str, User], invoice: Invoice, theirs: Invoice
) -> None:
    """Filtered in SQL: the admin's own queries (counts, the page), none per row."""
    client = client_for(people["finance"])

    def invoice_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/projectapp/invoice/").status_code == 200
        return sum("projectapp_invoice" in q["sql"] for q in queries.captured_queries)

    before = invoice_queries()
    for number in range(5):
        Invoice.objects.create(project=invoice.project, amount=Decimal(number))
    assert invoice_queries() == before


def test_the_owner_opens_and_changes_their_project(
    people: dict[str, User], invoice: Invoice, theirs: Invoice
) -> None:
    owner = client_for(people["owner"])
    url = f"/admin/projectapp/project/{invoice.project_id}/change/"
    page = owner.get(url)
    assert page.status_code == 200 and b'value="Apollo"' in page.content
    saved = owner.post(url, {"name": "Artemis"})
    assert saved.status_code == 302
    assert Project.objects.get(pk=invoice.project_id).name == "Artemis"
    # Someone else's project is not found (the admin looks it up in get_queryset()).
    other = f"/admin/projectapp/project/{theirs.project_id}/change/"
    assert owner.get(other).status_code == 302
    assert owner.post(other, {"name": "Mine"}).status_code == 302
    assert Project.objects.get(pk=theirs.project_id).name == "Zeus"


def test_a_team_member_views_the_project_and_changes_nothing(
    people: dict[str, User], invoice: Invoice
) -> None:
    member = client_for(people["member"])
    url = f"/admin/projectapp/project/{invoice.project_id}/change/"
    page = member.get(url)
    assert page.status_code == 200 and b"Apollo" in page.content
    assert b'name="name"' not in page.content  # view only: team members never edit
    assert member.post(url, {"name": "Mine"}).status_code == 403
    assert member.get(f"/admin/projectapp/invoice/{invoice.pk}/change/").status_code == 200
    assert Project.objects.get(pk=invoice.project_id).name == "Apollo"


def test_an_archived_project_is_shown_but_not_changed(
    people: dict[str, User], invoice: Invoice
) -> None:
    Project.objects.filter(pk=invoice.project_id).update(archived=True)
    owner = client_for(people["owner"])
    url = f"/admin/projectapp/project/{invoice.project_id}/change/"
    page = owner.get(url)
    assert page.status_code == 200 and b'name="name"' not in page.content  # read only
    assert owner.post(url, {"name": "Artemis", "archived": ""}).status_code == 403
    assert Project.objects.get(pk=invoice.project_id).name == "Apollo"


def test_list_editable_saves_are_decided_on_the_stored_row(
    people: dict[str, User], invoice: Invoice
) -> None:
    """Archiving through the changelist's editable column: the owner may (the row as
    stored is not archived); un-archiving is an edit of an archived project: refused."""
    owner = client_for(people["owner"])
    pk = invoice.project_id

    def save(archived: bool) -> int:
        data = {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(pk),
            "_save": "Save",
            **({"form-0-archived": "on"} if archived else {}),
        }
        return owner.post("/admin/projectapp/project/", data).status_code

    assert save(True) == 302
    if django.VERSION >= (6,):
        # Django 6 asks has_change_permission() of each row once the form has changed it:
        # the archived row is an edit of an archived project, so Django skips the save.
        assert not Project.objects.get(pk=pk).archived
        Project.objects.filter(pk=pk).update(archived=True)
    else:
        assert Project.objects.get(pk=pk).archived
    # Refused: by save_model on the stored row (403), or on Django 6 by Django itself, which
    # drops the field of a row has_change_permission() refuses (the save changes nothing).
    assert save(False) == (302 if django.VERSION >= (6,) else 403)
    assert Project.objects.get(pk=pk).archived


def test_finance_views_every_invoice_and_changes_none(
    people: dict[str, User], invoice: Invoice, theirs: Invoice
) -> None:
    finance = client_for(people["finance"])
    for shown in (invoice, theirs):
        url = f"/admin/projectapp/invoice/{shown.pk}/change/"
        page = finance.get(url)
        assert page.status_code == 200 and str(shown.amount).encode() in page.content
        changed = finance.post(url, {"project": shown.project_id, "amount": "1", "status": "paid"})
        assert changed.status_code == 403
    assert finance.get(f"/admin/projectapp/invoice/{invoice.pk}/delete/").status_code == 403
    assert sorted(str(i.amount) for i in Invoice.objects.all()) == ["120.00", "75.00"]
    # The owner views their project's invoice, not another's.
    owner = client_for(people["owner"])
    assert owner.get(f"/admin/projectapp/invoice/{invoice.pk}/change/").status_code == 200
    assert owner.get(f"/admin/projectapp/invoice/{theirs.pk}/change/").status_code == 302


@pytest.mark.parametrize("who", ["owner", "member", "finance", "admin", "stranger"])
def test_nobody_deletes_what_the_policy_does_not_let_them(
    people: dict[str, User], invoice: Invoice, who: str
) -> None:
    """Only admins delete projects, and admins view none: nothing is deleted here."""
    client = client_for(people[who])
    pk = invoice.project_id
    deleted = client.post(f"/admin/projectapp/project/{pk}/delete/", {"post": "yes"})
    # 403 without any allow rule for delete that could apply; else "does not exist".
    assert deleted.status_code == (302 if who == "admin" else 403)
    bulk = client.post(
        "/admin/projectapp/project/",
        {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Project.objects.filter(pk=pk).exists()


def test_an_admin_deletes_the_projects_they_may_view(
    people: dict[str, User], invoice: Invoice
) -> None:
    """The admin owns one project (so views it) and may delete it, alone or in bulk; a
    selected row they may not view is not in the changelist's queryset: kept."""
    root = people["admin"]
    first = Project.objects.create(owner=root, name="Root 1")
    second = Project.objects.create(owner=root, name="Root 2")
    client = client_for(root)
    assert client.get(f"/admin/projectapp/project/{first.pk}/delete/").status_code == 200
    assert (
        client.post(f"/admin/projectapp/project/{first.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    bulk = client.post(
        "/admin/projectapp/project/",
        {
            "action": "delete_selected",
            "_selected_action": [second.pk, invoice.project_id],
            "post": "yes",
        },
    )
    assert bulk.status_code == 302
    assert list(Project.objects.values_list("name", flat=True)) == ["Apollo"]


def test_a_bulk_deletion_with_one_row_the_policy_keeps_deletes_nothing(
    people: dict[str, User], tmp_path: Path
) -> None:
    """Every selected row must be deletable: with one refused, none is deleted."""
    policy = tmp_path / "projects.yaml"
    policy.write_text(
        POLICY.read_text()
        + "  - {id: keep-archived, effect: deny, subjects: ['*'], actions: [delete],"
        " resource: project, when: resource.archived == true}\n"
    )
    root = people["admin"]
    kept = Project.objects.create(owner=root, name="Kept", archived=True)
    other = Project.objects.create(owner=root, name="Other")
    data = {"action": "delete_selected", "_selected_action": [kept.pk, other.pk], "post": "yes"}
    with override_settings(AUTHZGUARD_POLICY_PATHS=[policy]):
        assert client_for(root).post("/admin/projectapp/project/", data).status_code == 403
    assert set(Project.objects.values_list("name", flat=True)) == {"Kept", "Other"}


def test_the_index_lists_the_models_the_policy_could_open(people: dict[str, User]) -> None:
    index = client_for(people["finance"]).get("/admin/")
    assert b"/admin/projectapp/invoice/" in index.content


def test_outsiders_and_anonymous_visitors_go_to_the_login_page(
    people: dict[str, User], invoice: Invoice
) -> None:
    for client in (client_for(people["outsider"]), client_for(None)):
        response = client.get("/admin/projectapp/invoice/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_mixin_without_a_kind_is_a_check_error() -> None:
    from django.contrib import admin

    from authzguard.contrib.admin import AuthzGuardAdminMixin

    class Nameless(AuthzGuardAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
        pass

    class Unknown(AuthzGuardAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
        authz_resource = "project"
        authz_change_action = "rename"

    site = admin.AdminSite(name="checks")
    found: dict[str, Any] = {}
    for cls in (Nameless, Unknown):
        found[cls.__name__] = [m.id for m in cls(Project, site).check()]
    assert found == {"Nameless": ["authzguard.E039"], "Unknown": ["authzguard.E039"]}


def test_a_changelist_whose_rules_cannot_become_sql_is_a_check_error(tmp_path: Path) -> None:
    """The admin filters by its view action: that pair's conditions must become SQL."""
    from tests.projectapp.admin import ProjectAdmin, site

    policy = tmp_path / "projects.yaml"
    policy.write_text(
        POLICY.read_text().replace(
            "      archived: {type: bool}\n",
            "      archived: {type: bool}\n      label: {type: any, field: name}\n",
        )
        + "  - {id: labelled, effect: allow, subjects: [authenticated], actions: [view],"
        ' resource: project, when: resource.label == "open"}\n'
    )
    with override_settings(AUTHZGUARD_POLICY_PATHS=[policy]):
        found = [m for m in ProjectAdmin(Project, site).check() if m.id.startswith("authzguard")]
    assert [m.id for m in found] == ["authzguard.E071"]
    assert "ProjectAdmin" in found[0].msg and "'labelled'" in found[0].msg
