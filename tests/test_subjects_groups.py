"""A subject's groups: one ORM query through ``user.groups``, none after a prefetch."""

from __future__ import annotations

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
def test_groups_cost_one_query_and_answer_what_the_orm_answers(
    people: dict[str, User], name: str, filtered_policy: CompiledPolicy
) -> None:
    user = User.objects.get(pk=people[name].pk)
    wanted = {"helpdesk": "desk"}
    orm = sorted(user.groups.values_list("name", flat=True))
    fresh = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        subject = subjects.subject_for(fresh, filtered_policy)
    assert subject.roles == frozenset(wanted[g] for g in orm if g in wanted)
    assert len(queries) == 1


def test_prefetched_groups_cost_no_query(
    people: dict[str, User], filtered_policy: CompiledPolicy
) -> None:
    user = User.objects.prefetch_related("groups").get(pk=people["many"].pk)
    with CaptureQueriesContext(connection) as queries:
        subject = subjects.subject_for(user, filtered_policy)
    assert subject.roles == frozenset({"desk"})
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


def test_a_filtering_group_manager_is_honoured(
    db: None,
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
        fresh = User.objects.get(pk=user.pk)
        with CaptureQueriesContext(connection) as queries:
            subject = subjects.subject_for(fresh, filtered_policy)
        assert subject.roles == frozenset({"desk"})
        assert len(queries) == 1
        assert "hidden-" in queries[0]["sql"]  # the manager's filter ran
    # Django's state is back: the stock manager, and the related manager built from it.
    assert Group._default_manager is stock_manager
    assert User.groups.__dict__["related_manager_cls"] is stock_related

    # Without the filter the same user holds both roles.
    fresh = User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        subject = subjects.subject_for(fresh, filtered_policy)
    assert subject.roles == frozenset({"desk", "secret"})
    assert len(queries) == 1
