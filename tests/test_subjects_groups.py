"""The group query's reused SQL answers exactly what the ORM answers, one query each."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authzguard import subjects


@pytest.fixture
def people(db: None) -> dict[str, User]:
    a, b = Group.objects.create(name="helpdesk"), Group.objects.create(name="admins")
    none = User.objects.create_user("none")
    one = User.objects.create_user("one")
    one.groups.add(a)
    many = User.objects.create_user("many")
    many.groups.add(a, b)
    return {"none": none, "one": one, "many": many}


@pytest.mark.parametrize("name", ["none", "one", "many"])
def test_reused_sql_matches_the_orm_with_one_query(people: dict[str, User], name: str) -> None:
    subjects._group_sql.clear()
    user = User.objects.get(pk=people[name].pk)
    orm = sorted(user.groups.values_list("name", flat=True))
    for _ in range(2):  # the first call compiles, the second reuses
        fresh = User.objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as queries:
            names = subjects._group_names(fresh)
        assert sorted(names) == orm
        assert len(queries) == 1
    assert any(sql is not None for sql in subjects._group_sql.values())


def test_prefetched_groups_cost_no_query(people: dict[str, User]) -> None:
    user = User.objects.prefetch_related("groups").get(pk=people["many"].pk)
    with CaptureQueriesContext(connection) as queries:
        assert sorted(subjects._group_names(user)) == ["admins", "helpdesk"]
    assert len(queries) == 0
