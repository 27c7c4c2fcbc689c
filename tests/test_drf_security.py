"""The DRF permission's contract (issue 10, items 1, 2 and 10): methods, objects, audit.

Each shape of ``docs/views.md`` (``RetrieveDestroyAPIView``, ``ModelViewSet``, a plain
``APIView`` with a detail kwarg) is asked as the owner, a stranger, a ``support`` member
and anonymously, through real requests (DRF's ``APIClient``); every request that reaches
the permission writes exactly one audit record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from authzguard.conf import settings as authz_settings
from tests.testapp.models import Note, ViewCall

pytest.importorskip("rest_framework")
from rest_framework.test import APIClient

POLICY = Path(__file__).parent / "drf_policies" / "drf.yaml"
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_urls")]

Records = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def drf_policy() -> Iterator[None]:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICY]):
        yield


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Records:
    caplog.set_level(logging.INFO, logger="authzguard.audit")

    def taken() -> list[dict[str, Any]]:
        found = [r.authz for r in caplog.records if r.name == "authzguard.audit"]  # type: ignore[attr-defined]
        caplog.clear()
        return found

    return taken


def client(user: User | None = None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_login(user)
    return api


def calls() -> list[tuple[str, str]]:
    return list(ViewCall.objects.order_by("pk").values_list("view", "target"))


# -- item 1: a request is decided against an action that accepts its method ---------------


def test_one_read_action_does_not_let_delete_through(
    alice: User, bob: User, carol: User, records: Records
) -> None:
    """The reported bypass: RetrieveDestroyAPIView with authz_action = "read"."""
    own, other = f"/read-only/{alice.pk}/", f"/read-only/{bob.pk}/"
    assert client(alice).delete(own).status_code == 405
    assert client(carol).delete(other).status_code == 405
    assert client().delete(other).status_code == 405
    assert calls() == []
    assert User.objects.filter(pk__in=[alice.pk, bob.pk]).count() == 2
    logged = records()
    assert [(r["action"], r["status"]) for r in logged] == [("read", "method_not_allowed")] * 3
    # Reading still works for those the policy lets read.
    assert client(alice).get(own).json() == {"id": alice.pk, "username": "alice"}
    assert client(carol).get(other).status_code == 200
    assert client(alice).get(other).status_code == 403
    assert client().get(own).status_code == 403


def test_retrieve_destroy_with_an_action_per_method(
    alice: User, bob: User, carol: User, admin: User, records: Records
) -> None:
    own, other = f"/accounts/{alice.pk}/", f"/accounts/{bob.pk}/"
    assert client(alice).delete(own).status_code == 403
    assert client(carol).delete(other).status_code == 403
    assert client().delete(other).status_code == 403
    assert User.objects.filter(pk__in=[alice.pk, bob.pk]).count() == 2
    assert client(admin).delete(other).status_code == 204
    assert calls() == [("AccountDetail", str(bob.pk))]
    assert [(r["action"], r["decision"], r["target_id"]) for r in records()] == [
        ("delete", "deny", alice.pk),
        ("delete", "deny", bob.pk),
        ("delete", "deny", bob.pk),
        ("delete", "allow", bob.pk),
    ]
    # No action accepts PUT or OPTIONS here: 405 (PUT has no handler either).
    assert client(alice).put(own).status_code == 405
    assert client(alice).options(own).status_code == 405


def test_put_and_patch_need_an_action_that_declares_them(
    alice: User, bob: User, carol: User, records: Records
) -> None:
    note = Note.objects.create(owner=alice, slug="a", title="Old")
    body = {"title": "New", "slug": "a"}
    # "update" declares PUT and PATCH: the owner may, nobody else.
    url = f"/notes/{note.pk}/"
    assert client(bob).patch(url, body, format="json").status_code == 403
    assert client(carol).patch(url, body, format="json").status_code == 403
    assert client().put(url, body, format="json").status_code == 403
    assert client(alice).patch(url, {"title": "Patched"}, format="json").status_code == 200
    assert client(alice).put(url, body, format="json").status_code == 200
    assert [(r["action"], r["decision"]) for r in records()] == [("update", "deny")] * 3 + [
        ("update", "allow")
    ] * 2
    # "edit" keeps the default methods (POST, DELETE): PATCH mapped to it is a 405.
    patched = f"/patched-notes/{note.pk}/"
    assert client(alice).patch(patched, {"title": "Sneaky"}, format="json").status_code == 405
    assert client(bob).patch(patched, {"title": "Sneaky"}, format="json").status_code == 405
    assert Note.objects.get(pk=note.pk).title == "New"
    assert [(r["action"], r["status"]) for r in records()] == [("edit", "method_not_allowed")] * 2
    assert tuple(authz_settings.STATE_CHANGING_METHODS) == ("POST", "DELETE")


def test_model_viewset_as_each_subject(
    alice: User, bob: User, carol: User, records: Records
) -> None:
    note = Note.objects.create(owner=alice, slug="a", title="Mine")
    url = f"/notes/{note.pk}/"
    assert client(alice).get(url).json() == {"id": note.pk, "title": "Mine", "slug": "a"}
    assert client(carol).get(url).status_code == 200
    assert client(bob).get(url).status_code == 403
    assert client().get(url).status_code == 403
    assert client(carol).delete(url).status_code == 403
    assert client(bob).delete(url).status_code == 403
    assert client().delete(url).status_code == 403
    assert Note.objects.filter(pk=note.pk).exists()
    assert client(alice).delete(url).status_code == 204
    assert not Note.objects.filter(pk=note.pk).exists()
    assert [(r["action"], r["decision"], r["subject"]) for r in records()] == [
        ("read", "allow", alice.pk),
        ("read", "allow", carol.pk),
        ("read", "deny", bob.pk),
        ("read", "deny", None),
        ("delete", "deny", carol.pk),
        ("delete", "deny", bob.pk),
        ("delete", "deny", None),
        ("delete", "allow", alice.pk),
    ]


# -- item 2: every handler bound to an object runs only after a decision on it ------------


def test_plain_api_view_is_decided_on_its_object(
    alice: User, bob: User, carol: User, admin: User, records: Records
) -> None:
    """The reported bypass: an APIView that reads User.objects.get(pk=pk) itself."""
    own, other = f"/plain/{alice.pk}/", f"/plain/{bob.pk}/"
    assert client(bob).get(own).status_code == 403
    assert client().get(own).status_code == 403
    assert client(alice).get(own).json()["email"] == "alice@example.com"
    assert client(carol).get(own).status_code == 200
    assert client(alice).get("/plain/999/").status_code == 404
    assert client(alice).delete(other).status_code == 403
    assert client(carol).delete(other).status_code == 403
    assert client(admin).delete(other).status_code == 204
    assert calls() == [
        ("AccountPlain.get", str(alice.pk)),
        ("AccountPlain.get", str(alice.pk)),
        ("AccountPlain.delete", str(bob.pk)),
    ]
    assert [(r["action"], r["status"], r["target_id"]) for r in records()] == [
        ("read", "deny", alice.pk),
        ("read", "deny", alice.pk),  # anonymous: refused before the lookup
        ("read", "allow", alice.pk),
        ("read", "allow", alice.pk),
        ("read", "not_found", None),
        ("delete", "deny", bob.pk),
        ("delete", "deny", bob.pk),
        ("delete", "allow", bob.pk),
    ]


def test_a_declared_lookup_kwarg_names_the_object(alice: User, bob: User, records: Records) -> None:
    assert client(alice).get(f"/by-user-id/{alice.pk}/").status_code == 200
    assert client(alice).get(f"/by-user-id/{bob.pk}/").status_code == 403
    assert [(r["decision"], r["target_id"]) for r in records()] == [
        ("allow", alice.pk),
        ("deny", bob.pk),
    ]


def test_a_kwarg_that_names_nothing_is_refused(alice: User, carol: User, records: Records) -> None:
    # The handler reads a user through user_id, which is not the lookup kwarg: nothing
    # could be decided on that object, so nobody gets through (authzguard.E033).
    assert client(alice).get(f"/undeclared/{alice.pk}/").status_code == 403
    assert client(carol).get(f"/undeclared/{alice.pk}/").status_code == 403
    assert calls() == []
    (first, second) = records()
    assert first["decision"] == second["decision"] == "deny"
    assert "user_id" in first["reason"] and "lookup kwarg 'pk'" in first["reason"]


def test_the_lookup_uses_the_views_queryset(alice: User, records: Records) -> None:
    Note.objects.create(owner=alice, slug="shown", title="public: hello")
    Note.objects.create(owner=alice, slug="kept", title="private")
    assert client(alice).get("/public-notes/shown/").json()["slug"] == "shown"
    # Outside get_queryset(): not found, for its owner too, before any handler runs.
    assert client(alice).get("/public-notes/kept/").status_code == 404
    # A queryset given to as_view() is the view's queryset too.
    assert client(alice).get("/initkwargs-notes/shown/").status_code == 200
    assert client(alice).get("/initkwargs-notes/kept/").status_code == 404
    assert [r["status"] for r in records()] == ["allow", "not_found"] * 2


def test_the_object_permission_confirms_the_authorized_object(alice: User) -> None:
    mine = Note.objects.create(owner=alice, slug="a", title="mine")
    Note.objects.create(owner=alice, slug="b", title="also mine")
    # Allowed on the note the URL names; the view fetched the other one: refused.
    assert client(alice).get(f"/swapped/{mine.pk}/").status_code == 403
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=True):
        assert client(alice).get(f"/swapped/{mine.pk}/").status_code == 404


def test_a_detail_view_without_a_model_is_refused(alice: User, records: Records) -> None:
    assert client(alice).get("/gadgets/1/").status_code == 403
    (record,) = records()
    assert record["decision"] == "deny" and record["error"]


def test_malformed_lookup_values_never_reach_the_view(alice: User, records: Records) -> None:
    # The router's default lookup accepts any segment: validated before any query.
    response = client(alice).get("/notes/1e3/")
    assert response.status_code == 400
    assert client(alice).get(f"/notes/{2**64}/").status_code == 400
    assert [r["status"] for r in records()] == ["bad_request", "bad_request"]


# -- item 10: a create is recorded with its real action and resource ----------------------


def test_a_create_is_recorded_with_its_action(alice: User, records: Records) -> None:
    response = client(alice).post("/notes/", {"title": "New", "slug": "new"}, format="json")
    assert response.status_code == 201
    assert Note.objects.get(slug="new").owner_id == alice.pk
    assert client().post("/notes/", {"title": "x", "slug": "x"}, format="json").status_code == 403
    assert [(r["action"], r["resource"], r["decision"]) for r in records()] == [
        ("create", "note", "allow"),
        ("create", "note", "deny"),
    ]


def test_an_unmapped_create_is_recorded_with_what_it_tried(alice: User, records: Records) -> None:
    response = client(alice).post("/patched-notes/", {"title": "x", "slug": "x"}, format="json")
    assert response.status_code == 405
    assert not Note.objects.exists()
    (record,) = records()
    assert (record["action"], record["resource"], record["status"]) == (
        "create",
        "note",
        "method_not_allowed",
    )
    assert record["authenticated"] is True
    assert "maps no authz action to create (POST)" in record["reason"]
