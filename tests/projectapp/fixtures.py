"""The example app's people and objects, shared by the tests that ask its views.

Loaded as a pytest plugin by tests/conftest.py, so the PostgreSQL reruns
(tests/test_*_postgresql.py) get them too. Django is imported inside the functions: the
plugin loads before Django is set up.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.test import Client

    from tests.projectapp.models import Invoice, Project

    ClientT = TypeVar("ClientT", bound=Client)

POLICY = Path(__file__).resolve().parent / "policies" / "projects.yaml"

#: Who asks each view: the owner, a team member, finance, an admin, a stranger, nobody.
PEOPLE = ("owner", "member", "finance", "admin", "stranger", "anonymous")

People = dict[str, "User | None"]


def make_people(finance_groups: tuple[str, ...] = ("finance",)) -> People:
    from django.contrib.auth.models import Group, User

    finance = User.objects.create_user("fiona", password="pw")
    finance.groups.add(*(Group.objects.create(name=name) for name in finance_groups))
    return {
        "owner": User.objects.create_user("olivia", password="pw"),
        "member": User.objects.create_user("mike", password="pw"),
        "finance": finance,
        "admin": User.objects.create_superuser("root", password="pw"),
        "stranger": User.objects.create_user("sam", password="pw"),
        "anonymous": None,
    }


def make_project(people: People, *team: User) -> Project:
    """Apollo, owned by the owner; ``team`` joins before the member."""
    from tests.projectapp.models import Project

    project = Project.objects.create(owner=people["owner"], name="Apollo")
    project.team.add(*team, people["member"])
    return project


@pytest.fixture
def people(db: None) -> People:
    return make_people()


@pytest.fixture
def project(people: People) -> Project:
    return make_project(people)


@pytest.fixture
def invoice(project: Project) -> Invoice:
    from tests.projectapp.models import Invoice

    return Invoice.objects.create(project=project, amount=Decimal("120.00"))


def signed_in(client: ClientT, user: User | None) -> ClientT:
    if user is not None:
        client.force_login(user)
    return client


def client_for(people: People, who: str) -> Client:
    from django.test import Client

    return signed_in(Client(), people[who])
