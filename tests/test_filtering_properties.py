"""List filtering equals the per-object decisions: random policies, random rows, zero
mismatches (issue 12.4). ``tests/test_filtering_postgresql.py`` runs it on PostgreSQL.

For every example: ``set(filter_for_subject(...)) == {o for o in rows if decide(...)}``.
Rows hold NULL in every nullable column, values equal to the policy's literals or not,
an owner and a parent across nullable foreign keys, and members (a many-to-many); the
conditions are the well-typed conditions of the policy generator (``tests/policy_gen.py``)
over those attributes and the subject's, whose values may be absent, joined with tests
of two to-many attributes (``subject.id in resource.members``, a reverse foreign key
across the parent). The list must also hold no row twice.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.exceptions import EmptyResultSet
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from authzguard.filtering import filter_for_subject
from authzguard.policy import compile_policy, load_policy
from authzguard.policy.model import Resource, Subject
from authzguard.resolvers import resource_attributes
from tests.filterapp.models import Parent, Row
from tests.policy_gen import INTS, HypothesisDraw, _Conditions, random_string, subset

pytestmark = [pytest.mark.property, pytest.mark.django_db]

#: The kind's attributes: (name, type, field), every way a path can reach a column.
ATTRIBUTES = (
    ("name", "str", None),
    ("code", "str", None),
    ("count", "int", None),
    ("flag", "bool", None),
    ("owner", "key", None),
    ("owner_pk", "key", "owner.pk"),
    ("owner_id", "key", None),
    ("owner_name", "str", "owner.username"),
    ("parent", "key", None),
    ("parent_label", "str", "parent.label"),
    ("parent_rank", "int", "parent.rank"),
    ("id", "key", "pk"),
)
#: To-many attributes (lists of keys), tested only by ``in``, ``not in`` and their truth:
#: a many-to-many, and a reverse foreign key across a nullable foreign key.
TO_MANY = (("members", "members"), ("parent_rows", "parent.rows"))
ROLES = ("r1", "r2")
SUBJECTS = ("*", "authenticated", "anonymous", "r1", "r2")


class _Pools:
    """What ``policy_gen._Conditions`` draws literals from."""

    def __init__(self, strings: list[str]) -> None:
        self.kinds = {"row": {name: kind for name, kind, _ in ATTRIBUTES}}
        self.strings = strings
        self.ints = list(INTS)


def _policy(draw: HypothesisDraw, pools: _Pools, directory: Path) -> Any:
    conditions = _Conditions(draw, pools, "row")  # type: ignore[arg-type]
    rules = []
    for index in range(draw.integer(1, 5)):
        rule: dict[str, Any] = {
            "id": f"rule-{index}",
            "effect": "deny" if draw.chance(35) else "allow",
            "subjects": subset(draw, SUBJECTS, 1, 2),
            "actions": ["list"],
            "resource": "row",
        }
        if draw.chance(80):
            rule["when"] = conditions.condition(draw.integer(0, 3))
        if draw.chance(40):
            member = _to_many_condition(draw)
            joined = draw.choice(("and", "or"))
            rule["when"] = f"({rule['when']}) {joined} ({member})" if "when" in rule else member
        rules.append(rule)
    attributes = {
        name: {"type": kind, **({"field": field} if field else {})}
        for name, kind, field in ATTRIBUTES
    }
    attributes.update({name: {"type": "list", "field": field} for name, field in TO_MANY})
    data = {
        "version": 1,
        "roles": {"r1": {}, "r2": {"inherits": "r1"}},
        "resources": {
            "row": {
                "model": "filterapp.Row",
                "actions": {"list": {"safe": True, "filterable": True}},
                "attributes": attributes,
            }
        },
        "rules": rules,
    }
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    note(path.read_text(encoding="utf-8"))
    return compile_policy(load_policy([path]))


def _to_many_condition(draw: HypothesisDraw) -> str:
    """A test of a to-many attribute: whether a value is one of its keys."""
    name = draw.choice([name for name, _ in TO_MANY])
    # Keys are small ints (users' and rows' primary keys); true == 1 in Python.
    value = draw.choice(("subject.id", "subject.id", "subject.username", "1", "2", '"1"', "true"))
    return f"{value} {draw.choice(('in', 'not in'))} resource.{name}"


def _rows(draw: HypothesisDraw, pools: _Pools, users: list[Any]) -> None:
    Row.objects.all().delete()
    Parent.objects.all().delete()
    parents = [
        Parent.objects.create(
            label=None if draw.chance(30) else draw.choice(pools.strings),
            rank=None if draw.chance(30) else draw.choice((0, 1, 2, 7, 42, -1)),
        )
        for _ in range(2)
    ]
    for _ in range(draw.integer(0, 8)):
        row = Row.objects.create(
            name=None if draw.chance(30) else draw.choice(pools.strings),
            code=draw.choice(pools.strings),
            count=None if draw.chance(30) else draw.choice(pools.ints),
            flag=None if draw.chance(30) else draw.chance(50),
            owner=None if draw.chance(30) else draw.choice(users),
            parent=None if draw.chance(30) else draw.choice(parents),
        )
        row.members.set(subset(draw, users, 0, len(users)))


def _subject(draw: HypothesisDraw, pools: _Pools, users: list[Any]) -> Subject:
    if draw.chance(20):
        return Subject(roles=frozenset(subset(draw, ROLES, 0, 1)))
    user = draw.choice(users)
    ident: object = draw.choice((user.pk, user.pk, 7, "alice", str(user.pk), None))
    return Subject(
        id=ident,
        username=None if draw.chance(15) else draw.choice([*pools.strings, user.username]),
        email=None if draw.chance(30) else draw.choice(pools.strings),
        roles=frozenset(subset(draw, ROLES, 0, 2)),
        authenticated=True,
    )


@settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    print_blob=False,
)
@given(st.data())
def test_filtering_returns_exactly_the_rows_decide_allows(data: st.DataObject) -> None:
    draw = HypothesisDraw(data)
    users = [User.objects.get_or_create(username=name)[0] for name in ("alice", "bob", "Alice")]
    pools = _Pools([random_string(draw), random_string(draw), "alice", "Alice", "bob"])
    with tempfile.TemporaryDirectory() as directory:
        policy = _policy(draw, pools, Path(directory))
    _rows(draw, pools, users)
    subject = _subject(draw, pools, users)
    note(repr(subject))
    kind = policy.policy.resources["row"]
    rows = list(Row.objects.select_related("owner", "parent").order_by("pk"))
    expected = {
        row.pk
        for row in rows
        if policy.decide(subject, "list", Resource("row", resource_attributes(row, kind))).allowed
    }
    filtered = filter_for_subject(policy, subject, "list", Row.objects.all(), "row")
    listed = list(filtered.values_list("pk", flat=True))
    assert len(listed) == len(set(listed)), "a row listed twice"
    got = set(listed)
    try:
        note(str(filtered.query))
    except EmptyResultSet:
        note("none()")
    assert got == expected, {
        row.pk: dict(resource_attributes(row, kind)) for row in rows if row.pk in got ^ expected
    }
