"""With ``AUTHZGUARD_HIDE_EXISTENCE``, counting queries tells "forbidden" from "missing"
on no adapter (issue 10, item 5).

An object from a custom resolver comes without its relations joined: reading
``owner: {field: owner.pk}`` used to load the owner, one query more, only when the
object exists. A path that ends in a foreign key's primary key now reads the ``owner_id``
column the object already holds.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, models
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext, isolate_apps

from authzguard.policy.model import Attribute, ResourceKind
from authzguard.resolvers import attribute_reader, read_attribute, resource_attributes
from tests.testapp.models import Note, ViewCall

pytestmark = pytest.mark.django_db

NOTE_KIND = ResourceKind(
    "note",
    model="testapp.Note",
    attributes={"owner": Attribute("owner", "key", field="owner.pk")},
)

#: How each adapter names a note: (method, URL, headers) for the note (None: a missing one).
Request = Callable[[Note | None], tuple[str, str, dict[str, str]]]


def _by_token(note: Note | None) -> tuple[str, str, dict[str, str]]:
    return "get", f"/notes/by-token/?token={note.token if note else uuid.uuid4()}", {}


def _by_pk(note: Note | None) -> tuple[str, str, dict[str, str]]:
    return "get", f"/notes/{note.pk if note else 987654}/", {}


def _by_header(url: str) -> Request:
    def request(note: Note | None) -> tuple[str, str, dict[str, str]]:
        return "post", url, {"X-Note": note.slug if note else "nobody"}

    return request


ADAPTERS: dict[str, Request] = {
    "decorator": _by_token,
    "mixin": _by_pk,
    "decorator-resolver": _by_header("/notes/edit-by-header/"),
    "mixin-resolver": _by_header("/notes/mixin/edit-by-header/"),
}


def _send(client: Client, request: tuple[str, str, dict[str, str]]) -> Any:
    method, url, headers = request
    return getattr(client, method)(url, headers=headers)


def _decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "authzguard.audit" and json.loads(r.getMessage())["event"] == "decision"
    ]


def _shape(sql: str) -> str:
    """A query without its values: the tables and joins it reads."""
    return sql.split(" FROM ", 1)[-1].split(" WHERE ")[0]


@override_settings(AUTHZGUARD_HIDE_EXISTENCE=True)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_forbidden_and_missing_run_the_same_queries(
    adapter: str, alice: User, bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    request = ADAPTERS[adapter]
    note = Note.objects.create(owner=bob, slug="bobs", title="Bob's")
    client = Client()
    client.force_login(alice)
    _send(client, request(None))  # warm up: the policy, the session and user caches
    caplog.clear()
    seen = []
    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        for target in (note, None):
            with CaptureQueriesContext(connection) as captured:
                response = _send(client, request(target))
            assert response.status_code == 404
            seen.append((response.content, [_shape(q["sql"]) for q in captured]))
    (forbidden, forbidden_sql), (missing, missing_sql) = seen
    assert forbidden == missing
    assert len(forbidden_sql) == len(missing_sql)
    assert forbidden_sql == missing_sql
    # Exactly one audit record per evaluation: one deny, one "no such object".
    assert [(d["decision"], d["status"]) for d in _decisions(caplog)] == [
        ("deny", "deny"),
        ("deny", "not_found"),
    ]
    assert not ViewCall.objects.exists()


@override_settings(AUTHZGUARD_HIDE_EXISTENCE=True)
@pytest.mark.parametrize("adapter", ["decorator-resolver", "mixin-resolver"])
def test_the_owner_is_still_recognised_from_the_column(
    adapter: str, bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    note = Note.objects.create(owner=bob, slug="bobs", title="Bob's")
    client = Client()
    client.force_login(bob)
    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        assert _send(client, ADAPTERS[adapter](note)).status_code == 200
    [decision] = _decisions(caplog)
    assert (decision["decision"], decision["rule"]) == ("allow", "owner-uses-notes")
    assert ViewCall.objects.get().target == str(note.pk)


# -- the readers -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["owner", "owner_id", "owner.pk", "owner__pk", "owner.id"])
def test_a_foreign_keys_primary_key_is_read_without_a_query(
    path: str, alice: User, django_assert_num_queries: Any
) -> None:
    Note.objects.create(owner=alice, slug="n", title="t")
    note = Note.objects.get(slug="n")  # no select_related: what a resolver returns
    with django_assert_num_queries(0):
        value = attribute_reader(Note, path)(note)
    assert value == alice.pk
    # The same value read_attribute gives by loading the owner.
    assert read_attribute(Note.objects.get(slug="n"), path) == alice.pk


def test_resource_attributes_of_an_unjoined_object_run_no_query(
    alice: User, django_assert_num_queries: Any
) -> None:
    Note.objects.create(owner=alice, slug="n", title="t")
    note = Note.objects.get(slug="n")
    with django_assert_num_queries(0):
        assert dict(resource_attributes(note, NOTE_KIND)) == {"owner": alice.pk}


def test_deeper_paths_still_load_the_relation(alice: User, django_assert_num_queries: Any) -> None:
    Note.objects.create(owner=alice, slug="n", title="t")
    note = Note.objects.get(slug="n")
    with django_assert_num_queries(1):
        assert attribute_reader(Note, "owner.email")(note) == "alice@example.com"


def test_a_missing_foreign_key_reads_as_absent() -> None:
    assert attribute_reader(Note, "owner.pk")(Note(slug="x")) is None


@isolate_apps("tests.testapp")
def test_a_foreign_key_to_another_field_reads_the_related_key(alice: User) -> None:
    """With ``to_field`` the column holds the slug: ``note.pk`` must still be the key."""

    class Pin(models.Model):  # noqa: DJ008 - a model of this test only
        note = models.ForeignKey(Note, models.CASCADE, to_field="slug")

        class Meta:
            app_label = "testapp"

    note = Note.objects.create(owner=alice, slug="n", title="t")
    pin = Pin(note_id="n")
    assert attribute_reader(Pin, "note.pk")(pin) == note.pk
    assert attribute_reader(Pin, "note")(pin) == note.pk
    assert attribute_reader(Pin, "note_id")(pin) == "n"


@isolate_apps("tests.testapp")
def test_a_property_over_the_relation_is_what_is_read(alice: User) -> None:
    class Shadowed(models.Model):  # noqa: DJ008 - a model of this test only
        owner = models.ForeignKey(User, models.CASCADE)

        class Meta:
            app_label = "testapp"

    class Delegate(Shadowed):  # noqa: DJ008
        class Meta:
            proxy = True
            app_label = "testapp"

        @property
        def owner(self) -> None:  # type: ignore[override]
            return None

    assert attribute_reader(Delegate, "owner.pk")(Delegate(owner_id=alice.pk)) is None
    assert attribute_reader(Shadowed, "owner.pk")(Shadowed(owner_id=alice.pk)) == alice.pk
