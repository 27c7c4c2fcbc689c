"""The target lookup is the ORM's: the instances it builds, the managers and the
queryset classes it honours, one query with two rows at most.

These run on the test database (SQLite); ``test_lookups_on_postgresql`` runs this file
again against PostgreSQL in its own process.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from authzguard.exceptions import AmbiguousTarget, TargetNotFound
from authzguard.resolvers import TargetQuery, fetch_target
from tests.testapp.models import (
    CURRENT_TENANT,
    USING_CALLS,
    Archived,
    Badge,
    Coupon,
    Note,
    NoteProxy,
    PinnedNote,
    Shelved,
    TenantDoc,
)

pytestmark = pytest.mark.django_db


def state(obj: models.Model) -> dict[str, Any]:
    """Everything an instance carries from the database."""
    return {
        "class": type(obj),
        "fields": {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields},
        "db": obj._state.db,
        "adding": obj._state.adding,
        "deferred": obj.get_deferred_fields(),
    }


def fetched(model: type[models.Model], path: str, value: object) -> Any:
    query = TargetQuery(model, path, value, "p", "query", "default", ())
    return fetch_target(query, None).obj


def orm(model: type[models.Model], path: str, value: object) -> list[models.Model]:
    return list(model._default_manager.filter(**{path: value})[:2])


@pytest.fixture
def data() -> dict[str, Any]:
    ann = User.objects.create_user("ann", "ann@example.com", "pw", first_name="Ann")
    bob = User.objects.create_user("bob", "bob@example.com", "pw")
    ann.last_login = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    ann.save()
    note = Note.objects.create(owner=ann, slug="n1", title="same")
    Note.objects.create(owner=bob, slug="n2", title="same")
    pinned = PinnedNote.objects.create(
        owner=bob,
        slug="p1",
        title="pin",
        pinned_at=datetime.datetime(2026, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
        label="quiet",
    )
    return {"ann": ann, "bob": bob, "note": note, "pinned": pinned}


CASES = [
    (User, "pk", lambda d: d["ann"].pk),
    (User, "username", lambda d: "bob"),
    (User, "email", lambda d: "ann@example.com"),
    (Note, "pk", lambda d: d["note"].pk),
    (Note, "slug", lambda d: "n2"),
    (Note, "token", lambda d: d["note"].token),
    (Note, "title", lambda d: "same"),  # two rows: ambiguous
    (Note, "pk", lambda d: 10**9),  # none
    (Note, "token", lambda d: uuid.uuid4()),  # none
    (PinnedNote, "pk", lambda d: d["pinned"].pk),
    (PinnedNote, "slug", lambda d: "p1"),
]


@pytest.mark.parametrize(("model", "path", "value"), CASES)
def test_the_lookup_builds_what_the_orm_builds(
    data: dict[str, Any], model: type[models.Model], path: str, value: Any
) -> None:
    wanted = value(data)
    rows = orm(model, path, wanted)
    query = TargetQuery(model, path, wanted, "p", "query", "default", ())
    if len(rows) != 1:
        with pytest.raises(TargetNotFound if not rows else AmbiguousTarget):
            fetch_target(query, None)
        return
    assert state(fetch_target(query, None).obj) == state(rows[0])


def test_converters_run_as_the_orm_runs_them(data: dict[str, Any]) -> None:
    pinned = fetched(PinnedNote, "pk", data["pinned"].pk)
    assert pinned.label == "QUIET"  # ShoutingField.from_db_value
    assert pinned.pinned_at == data["pinned"].pinned_at
    ann = fetched(User, "pk", data["ann"].pk)
    assert ann.last_login == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_a_manager_that_filters_is_honoured() -> None:
    shown = Shelved.objects.create(name="shown")
    hidden = Shelved.objects.create(name="hidden", hidden=True)
    query = TargetQuery(Shelved, "pk", hidden.pk, "id", "path", "default", ())
    with pytest.raises(TargetNotFound):
        fetch_target(query, None)
    query = TargetQuery(Shelved, "pk", shown.pk, "id", "path", "default", ())
    assert fetch_target(query, None).obj == shown


def test_one_query_with_two_rows_at_most(data: dict[str, Any]) -> None:
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
        assert fetched(Note, "slug", "n1") == data["note"]
    assert len(captured.captured_queries) == 1
    assert len(seen) == 1 and "LIMIT 2" in seen[0].upper()


def test_fetch_target_reports_none_and_several(data: dict[str, Any]) -> None:
    with pytest.raises(AmbiguousTarget):
        fetch_target(TargetQuery(Note, "title", "same", "t", "query", "default", ()), None)
    with pytest.raises(TargetNotFound):
        fetch_target(TargetQuery(Note, "title", "nope", "t", "query", "default", ()), None)
    found = fetch_target(TargetQuery(Note, "title", "pin", "t", "query", "default", ()), None)
    assert found.obj == data["pinned"].note_ptr


def test_relations_to_join_keep_the_orm_path(data: dict[str, Any]) -> None:

    query = TargetQuery(Note, "slug", "n1", "s", "query", "default", ("owner",))
    with CaptureQueriesContext(connection) as captured:
        target = fetch_target(query, None)
        assert target.obj.owner.username == "ann"  # joined: no second query
    assert len(captured.captured_queries) == 1
    assert "JOIN" in captured.captured_queries[0]["sql"].upper()


# -- proxies, managers, lookups and queryset classes of the project's own -----------------


def test_a_proxy_model_gets_instances_of_the_proxy(data: dict[str, Any]) -> None:
    found = fetched(NoteProxy, "pk", data["note"].pk)
    assert type(found) is NoteProxy
    assert state(found) == state(orm(NoteProxy, "pk", data["note"].pk)[0])


def test_a_manager_that_filters_in_filter_is_honoured() -> None:
    """A tenancy manager adds the current tenant in ``filter()``: each request's lookup
    answers for that request's tenant."""
    TenantDoc.objects.bulk_create([TenantDoc(tenant=1, name="d1"), TenantDoc(tenant=2, name="d1")])
    CURRENT_TENANT["id"] = 1
    try:
        assert fetched(TenantDoc, "name", "d1").tenant == 1
        CURRENT_TENANT["id"] = 2
        assert fetched(TenantDoc, "name", "d1").tenant == 2
    finally:
        CURRENT_TENANT["id"] = 1


def test_a_custom_exact_lookup_is_honoured() -> None:
    """The field compares codes case-insensitively: the lookup answers what the ORM does."""
    Coupon.objects.create(code="alice", holder="victim")
    Coupon.objects.create(code="Alice", holder="attacker")
    assert fetched(Coupon, "code", "Alice").holder == "victim"


def test_a_value_the_field_prepares_as_null_is_the_orms_is_null() -> None:
    """``"-"`` prepares to ``None``: the ORM matches the NULL row with ``IS NULL``."""
    Badge.objects.create(code=None, name="null-coded")
    Badge.objects.create(code="x", name="x-coded")
    assert fetched(Badge, "code", "-").name == "null-coded" == orm(Badge, "code", "-")[0].name
    assert fetched(Badge, "code", "x").name == "x-coded"


def test_a_querysets_own_using_is_honoured() -> None:
    """A queryset class that routes ``using()`` itself (here: "replica" reads go to the
    primary) gets the alias the lookup chose through that ``using()``."""
    Archived.objects.create(name="kept")
    USING_CALLS.clear()
    query = TargetQuery(Archived, "name", "kept", "n", "query", "replica", ())
    assert fetch_target(query, None).obj.name == "kept"
    assert USING_CALLS == ["replica"]
