"""Django's admin with ``AuthzGuardAdminMixin`` (tests/projectapp/admin.py), through the
test client. Run by tests/test_admin.py under tests/admin_settings.py (admin installed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.checks import run_checks
from django.test import Client

from authzguard.checks import check_enforcement
from tests.projectapp.models import Invoice, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db: None) -> dict[str, User]:
    def staff(name: str) -> User:
        return User.objects.create_user(name, password="pw", is_staff=True)

    finance = staff("fiona")
    finance.groups.add(Group.objects.create(name="finance"))
    return {
        "owner": staff("olivia"),
        "finance": finance,
        "admin": User.objects.create_superuser("root", password="pw"),
        "stranger": staff("sam"),
        "outsider": User.objects.create_user("nina", password="pw"),  # not staff
    }


@pytest.fixture
def invoice(people: dict[str, User]) -> Invoice:
    project = Project.objects.create(owner=people["owner"], name="Apollo")
    return Invoice.objects.create(project=project, amount=Decimal("120.00"))


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_the_admin_passes_every_check_under_deny_by_default() -> None:
    assert check_enforcement() == []
    assert [m.id for m in run_checks() if m.level >= 40] == []


@pytest.mark.parametrize("who", ["owner", "finance", "admin", "stranger"])
def test_rows_are_not_listed_without_list_filtering(
    people: dict[str, User], invoice: Invoice, who: str
) -> None:
    """Until list filtering (issue 12.4) decides per row, the changelist is decided on the
    kind alone, where a conditional allow that applies fails to evaluate: no row is
    listed (or opened, since the admin looks objects up in get_queryset()), never every
    row. Finance's unconditional rule is there, but so is the owners' conditional one."""
    client = client_for(people[who])
    listed = client.get("/admin/projectapp/invoice/")
    assert listed.status_code == 200 and b"120.00" not in listed.content
    projects = client.get("/admin/projectapp/project/")
    assert projects.status_code == 200 and b"Apollo" not in projects.content
    change = client.get(f"/admin/projectapp/project/{invoice.project_id}/change/")
    assert change.status_code == 302  # "does not exist": the admin looks in get_queryset()
    posted = client.post(f"/admin/projectapp/project/{invoice.project_id}/change/", {"name": "X"})
    assert posted.status_code == 302
    deleted = client.post(
        f"/admin/projectapp/project/{invoice.project_id}/delete/", {"post": "yes"}
    )
    # 403 without any allow rule for delete that could apply; else "does not exist".
    assert deleted.status_code == (302 if who == "admin" else 403)
    bulk = client.post(
        "/admin/projectapp/project/",
        {"action": "delete_selected", "_selected_action": [invoice.project_id], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert Project.objects.get(pk=invoice.project_id).name == "Apollo"


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
