"""The group query's reused SQL answers exactly what the ORM answers, one query each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.models import Manager, QuerySet
from django.test.utils import CaptureQueriesContext

from authzguard import subjects
from authzguard.policy import CompiledPolicy, compile_policy, load_policy


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


# -- a filtering manager on Group: the reused SQL must not bypass it -----------------------

FILTERED_POLICY = """\
version: 1
roles:
  desk:
    granted_to: [{group: helpdesk}]
  secret:
    granted_to: [{group: hidden-ops}]
resources:
  ticket:
    actions: [read]
rules:
  - id: desk-reads
    effect: allow
    subjects: [desk]
    actions: [read]
    resource: ticket
  - id: secret-reads
    effect: allow
    subjects: [secret]
    actions: [read]
    resource: ticket
"""


class HidingManager(Manager["Group"]):
    """Groups whose name starts with ``hidden-`` do not exist as far as this manager says."""

    def get_queryset(self) -> QuerySet[Group]:
        return super().get_queryset().exclude(name__startswith="hidden-")


@pytest.fixture
def no_group_sql() -> Iterator[None]:
    """Start and end without any compiled group SQL: no dependence on test order."""
    subjects._group_sql.clear()
    yield
    subjects._group_sql.clear()


@pytest.fixture
def filtered_policy(tmp_path: Path) -> CompiledPolicy:
    path = tmp_path / "policy.yaml"
    path.write_text(FILTERED_POLICY)
    return compile_policy(load_policy([path]))


def _swap_group_manager(monkeypatch: pytest.MonkeyPatch, manager: Manager[Group]) -> None:
    """Make ``manager`` Group's default manager; ``monkeypatch`` undoes every step.

    ``Group._default_manager`` reads ``Group._meta.default_manager``, a cached_property
    (stored in the Options' ``__dict__``). ``user.groups`` builds its related manager
    from that manager's class, cached on the ``User.groups`` descriptor: forget it so
    it is built from the swapped manager, and (by undo) so the stock one is built again.
    """
    manager.name = "objects"
    manager.model = Group
    monkeypatch.setitem(Group._meta.__dict__, "default_manager", manager)
    monkeypatch.delitem(User.groups.__dict__, "related_manager_cls", raising=False)


def test_filtering_group_manager_uses_the_orm(
    db: None,
    no_group_sql: None,
    filtered_policy: CompiledPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = User.objects.create_user("mixed")
    user.groups.add(Group.objects.create(name="helpdesk"), Group.objects.create(name="hidden-ops"))
    stock_manager = Group._default_manager
    stock_related = User.groups.related_manager_cls  # built by groups.add() above
    with monkeypatch.context() as patched:
        _swap_group_manager(patched, HidingManager())
        assert isinstance(Group._default_manager, HidingManager)
        orm = list(User.objects.get(pk=user.pk).groups.values_list("name", flat=True))
        assert orm == ["helpdesk"]
        for _ in range(2):  # the first call decides on the SQL, the second reuses that
            fresh = User.objects.get(pk=user.pk)
            with CaptureQueriesContext(connection) as queries:
                subject = subjects.subject_for(fresh, filtered_policy)
            assert subject.roles == frozenset({"desk"})
            assert len(queries) == 1
            assert "hidden-" in queries[0]["sql"]  # the manager's filter ran
        # No reusable SQL for this user model: the ORM answered, not the fast path.
        assert list(subjects._group_sql.values()) == [None]
    # Django's state is back: the stock manager, and the related manager built from it.
    assert Group._default_manager is stock_manager
    assert User.groups.__dict__["related_manager_cls"] is stock_related

    # Without the filter the same user holds both roles, through the reused SQL.
    subjects._group_sql.clear()
    fresh = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        subject = subjects.subject_for(fresh, filtered_policy)
    assert subject.roles == frozenset({"desk", "secret"})
    assert len(queries) == 1
    assert any(sql is not None for sql in subjects._group_sql.values())
