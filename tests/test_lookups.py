"""The compiled target lookup builds the instances the ORM builds, or leaves it to the ORM.

These run on the test database (SQLite); ``test_lookups_on_postgresql`` runs this file
again against PostgreSQL in its own process.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, models
from django.test.utils import CaptureQueriesContext

from authzguard import lookups
from authzguard.exceptions import AmbiguousTarget, TargetNotFound
from authzguard.resolvers import TargetQuery, fetch_target, lookup_field
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


def compiled(model: type[models.Model], path: str, value: object) -> list[models.Model] | None:
    return lookups.lookup(model, path, lookup_field(model, path), value, "default")


def orm(model: type[models.Model], path: str, value: object) -> list[models.Model]:
    return list(model._default_manager.filter(**{path: value})[: lookups.LIMIT])


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
def test_the_compiled_lookup_builds_what_the_orm_builds(
    data: dict[str, Any], model: type[models.Model], path: str, value: Any
) -> None:
    wanted = value(data)
    found = compiled(model, path, wanted)
    assert found is not None, "this lookup should run compiled"
    assert [state(o) for o in found] == [state(o) for o in orm(model, path, wanted)]
    # Again from the cached statement, with another connection-level call.
    again = compiled(model, path, wanted)
    assert again is not None
    assert [state(o) for o in again] == [state(o) for o in found]


def test_converters_run_as_the_orm_runs_them(data: dict[str, Any]) -> None:
    (pinned,) = compiled(PinnedNote, "pk", data["pinned"].pk) or []
    assert pinned.label == "QUIET"  # ShoutingField.from_db_value
    assert pinned.pinned_at == data["pinned"].pinned_at
    (ann,) = compiled(User, "pk", data["ann"].pk) or []
    assert ann.last_login == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


def test_a_manager_that_filters_keeps_the_orm_path() -> None:
    shown = Shelved.objects.create(name="shown")
    hidden = Shelved.objects.create(name="hidden", hidden=True)
    assert compiled(Shelved, "pk", shown.pk) is None
    query = TargetQuery(Shelved, "pk", hidden.pk, "id", "path", "default", (), None)
    with pytest.raises(TargetNotFound):
        fetch_target(query, None)
    query = TargetQuery(Shelved, "pk", shown.pk, "id", "path", "default", ())
    assert fetch_target(query, None).obj == shown


def test_one_query_through_the_connections_wrappers(data: dict[str, Any]) -> None:
    compiled(Note, "slug", "n1")  # compile outside the count
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
        (note,) = compiled(Note, "slug", "n1") or []
    assert note == data["note"]
    assert len(captured.captured_queries) == 1
    assert len(seen) == 1 and "LIMIT 2" in seen[0].upper()


def test_statements_live_on_their_connection(data: dict[str, Any]) -> None:
    compiled(Note, "slug", "n1")
    cache = connections["default"].__dict__[lookups._CACHE_ATTR][1]
    assert (Note, "slug") in cache
    entry = cache[(Note, "slug")]
    assert isinstance(entry, lookups.CompiledLookup)
    assert entry.sql.count("%s") == 1


def test_fetch_target_reports_none_and_several(data: dict[str, Any]) -> None:
    field = lookup_field(Note, "title")
    with pytest.raises(AmbiguousTarget):
        fetch_target(TargetQuery(Note, "title", "same", "t", "query", "default", (), field), None)
    with pytest.raises(TargetNotFound):
        fetch_target(TargetQuery(Note, "title", "nope", "t", "query", "default", (), field), None)
    found = fetch_target(
        TargetQuery(Note, "title", "pin", "t", "query", "default", (), field), None
    )
    assert found.obj == data["pinned"].note_ptr


def test_relations_to_join_keep_the_orm_path(data: dict[str, Any]) -> None:
    field = lookup_field(Note, "slug")
    query = TargetQuery(Note, "slug", "n1", "s", "query", "default", ("owner",), field)
    with CaptureQueriesContext(connection) as captured:
        target = fetch_target(query, None)
        assert target.obj.owner.username == "ann"  # joined: no second query
    assert len(captured.captured_queries) == 1
    assert "JOIN" in captured.captured_queries[0]["sql"].upper()


def test_the_setting_sends_every_lookup_through_the_orm(
    data: dict[str, Any], client: Any, settings: Any
) -> None:
    """``AUTHZGUARD_COMPILED_LOOKUPS = False``: the guard never compiles a statement."""
    from django.test import Client

    from authzguard.runtime import reset_policy

    settings.AUTHZGUARD_COMPILED_LOOKUPS = False
    reset_policy()
    connections["default"].__dict__.pop(lookups._CACHE_ATTR, None)
    browser = Client()
    browser.force_login(data["ann"])
    response = browser.get(f"/users/{data['ann'].pk}/")
    assert response.status_code == 200
    assert lookups._CACHE_ATTR not in connections["default"].__dict__
    settings.AUTHZGUARD_COMPILED_LOOKUPS = True
    reset_policy()
    assert browser.get(f"/users/{data['ann'].pk}/").status_code == 200
    assert (User, "pk") in connections["default"].__dict__[lookups._CACHE_ATTR][1]


# -- what must keep the ORM path (or, for proxies, may take the compiled one) ---------------


def test_a_proxy_model_gets_instances_of_the_proxy(data: dict[str, Any]) -> None:
    found = compiled(NoteProxy, "pk", data["note"].pk)
    assert found is not None
    assert [state(o) for o in found] == [state(o) for o in orm(NoteProxy, "pk", data["note"].pk)]
    assert type(found[0]) is NoteProxy


def test_a_manager_that_filters_in_filter_keeps_the_orm_path() -> None:
    """A tenancy manager adds the current tenant in ``filter()``: a statement compiled
    for one tenant must never answer for another."""
    TenantDoc.objects.bulk_create([TenantDoc(tenant=1, name="d1"), TenantDoc(tenant=2, name="d1")])
    CURRENT_TENANT["id"] = 1
    try:
        assert compiled(TenantDoc, "name", "d1") is None
        query = TargetQuery(
            TenantDoc, "name", "d1", "n", "query", "default", (), lookup_field(TenantDoc, "name")
        )
        assert fetch_target(query, None).obj.tenant == 1
        CURRENT_TENANT["id"] = 2
        assert fetch_target(query, None).obj.tenant == 2
    finally:
        CURRENT_TENANT["id"] = 1


def test_a_custom_exact_lookup_keeps_the_orm_path() -> None:
    """The field compares codes case-insensitively: a statement checked on one value
    would send another value's parameter unconverted."""
    Coupon.objects.create(code="alice", holder="victim")
    Coupon.objects.create(code="Alice", holder="attacker")
    assert compiled(Coupon, "code", "bob") is None
    field = lookup_field(Coupon, "code")
    query = TargetQuery(Coupon, "code", "Alice", "c", "query", "default", (), field)
    assert fetch_target(query, None).obj.holder == "victim"  # what the ORM answers


def test_a_change_of_time_zone_settings_drops_compiled_statements(
    data: dict[str, Any], settings: Any
) -> None:
    compiled(User, "pk", data["ann"].pk)
    before = connections["default"].__dict__[lookups._CACHE_ATTR]
    settings.USE_TZ = False
    (ann,) = compiled(User, "pk", data["ann"].pk) or []
    assert connections["default"].__dict__[lookups._CACHE_ATTR] is not before
    assert state(ann) == state(orm(User, "pk", data["ann"].pk)[0])
    assert ann.last_login is not None and ann.last_login.tzinfo is None


def test_a_compiled_statement_holds_no_reference_to_its_connection(data: dict[str, Any]) -> None:
    import gc
    import types

    compiled(User, "pk", data["ann"].pk)
    entry = connections["default"].__dict__[lookups._CACHE_ATTR][1][(User, "pk")]
    wrapper = connections["default"]
    seen, stack = set(), [entry]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        assert obj is not wrapper and obj is not wrapper.ops, "a cycle back to the connection"
        # Classes, modules and functions lead to module globals, hence to everything.
        if isinstance(obj, (type, str, bytes, int, types.ModuleType, types.FunctionType)):
            continue
        stack.extend(gc.get_referents(obj))


@pytest.mark.parametrize("first", ["x", "-"], ids=["compiled-first", "null-first"])
def test_a_value_the_field_prepares_as_null_is_the_orms_is_null(first: str) -> None:
    """``"-"`` prepares to ``None``: the ORM matches the NULL row with ``IS NULL``, and so
    does every lookup, whichever value a connection saw first."""
    connections["default"].__dict__.pop(lookups._CACHE_ATTR, None)
    Badge.objects.create(code=None, name="null-coded")
    Badge.objects.create(code="x", name="x-coded")
    field = lookup_field(Badge, "code")

    def name(value: str) -> str:
        query = TargetQuery(Badge, "code", value, "c", "query", "default", (), field)
        return str(fetch_target(query, None).obj.name)

    assert name(first) == {"x": "x-coded", "-": "null-coded"}[first]
    assert name("-") == "null-coded" == orm(Badge, "code", "-")[0].name
    assert name("x") == "x-coded"
    assert compiled(Badge, "code", "-") is None  # never sent as "= NULL"
    assert compiled(Badge, "code", "x") is not None  # the statement still serves the rest


def test_a_querysets_own_using_is_honoured() -> None:
    """A queryset class that routes ``using()`` itself (here: "replica" reads go to the
    primary) keeps the ORM path, and the ORM path calls that ``using()``."""
    Archived.objects.create(name="kept")
    USING_CALLS.clear()
    field = lookup_field(Archived, "name")
    query = TargetQuery(Archived, "name", "kept", "n", "query", "replica", (), field)
    assert fetch_target(query, None, compiled=False).obj.name == "kept"
    assert USING_CALLS == ["replica"]
    assert compiled(Archived, "name", "kept") is None  # another queryset class


def test_a_compile_that_cannot_succeed_is_not_retried(
    data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error that is not the database's would recur: the ORM keeps the lookup, and
    the connection stops trying; a database error is tried again on the next lookup."""
    from django.db import DatabaseError, InterfaceError

    calls = []

    def failing(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise error

    connections["default"].__dict__.pop(lookups._CACHE_ATTR, None)
    monkeypatch.setattr(lookups, "compile_lookup", failing)
    error: Exception = DatabaseError("gone away")
    assert compiled(Note, "slug", "n1") is None
    assert compiled(Note, "slug", "n1") is None
    assert len(calls) == 2
    error = InterfaceError("connection already closed")  # not a DatabaseError: Error
    assert compiled(Note, "slug", "n1") is None
    assert len(calls) == 3
    error = TypeError("a field the compiler does not know")
    assert compiled(Note, "slug", "n1") is None
    assert compiled(Note, "slug", "n1") is None
    assert len(calls) == 4
    query = TargetQuery(Note, "slug", "n1", "s", "query", "default", (), lookup_field(Note, "slug"))
    assert fetch_target(query, None).obj == data["note"]
