"""DRF permission, object-permission backend and template tag: same policy, same answers."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.template import Context, Template
from django.test import Client, RequestFactory, override_settings

from tests.testapp.models import Note, ViewCall

pytest.importorskip("rest_framework")
pytestmark = pytest.mark.django_db

BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "authzguard.backends.AuthzGuardBackend",
]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- DRF -----------------------------------------------------------------------------------


def test_drf_object_permission(alice: User, bob: User, carol: User) -> None:
    assert signed_in(carol).get(f"/api/users/{bob.pk}/").json() == {"id": bob.pk, "username": "bob"}
    assert signed_in(alice).get(f"/api/users/{alice.pk}/").status_code == 200
    assert signed_in(alice).get(f"/api/users/{bob.pk}/").status_code == 403
    assert signed_in(carol).get("/api/users/999/").status_code == 404
    assert Client().get(f"/api/users/{bob.pk}/").status_code == 403


def test_drf_writes_one_audit_record_per_request(
    alice: User, bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = signed_in(alice)
    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        client.get(f"/api/users/{alice.pk}/")
        client.get(f"/api/users/{bob.pk}/")
        client.delete(f"/api/users/{bob.pk}/")
    records = [r.authz for r in caplog.records if r.name == "authzguard.audit"]  # type: ignore[attr-defined]
    assert [(r["action"], r["decision"], r["target_id"]) for r in records] == [
        ("read", "allow", alice.pk),
        ("read", "deny", bob.pk),
        ("delete", "deny", bob.pk),
    ]


def test_drf_delete(alice: User, bob: User, admin: User, django_assert_num_queries: Any) -> None:
    client = signed_in(alice)
    # session, user: refused by the view-level check, before DRF's lookup.
    with django_assert_num_queries(2):
        assert client.delete(f"/api/users/{bob.pk}/").status_code == 403
    assert not ViewCall.objects.exists()
    assert signed_in(admin).delete(f"/api/users/{bob.pk}/").status_code == 204
    assert not User.objects.filter(pk=bob.pk).exists()


def test_drf_undeclared_method_is_refused(alice: User) -> None:
    # PUT has no handler (DRF's 405) ...
    assert signed_in(alice).put(f"/api/users/{alice.pk}/").status_code == 405
    # ... and OPTIONS has one but no authz action accepts it: refused as the decorator
    # refuses a method its action does not declare, never allowed by omission.
    assert signed_in(alice).options(f"/api/users/{alice.pk}/").status_code == 405


def test_drf_list_decides_without_object(alice: User, carol: User) -> None:
    assert signed_in(carol).get("/api/users/").status_code == 200
    assert signed_in(alice).get("/api/users/").status_code == 403


def test_drf_resolved_target(alice: User, bob: User) -> None:
    client = signed_in(alice)
    own = client.post(
        "/api/sessions/end/", json.dumps({"email": "alice@example.com"}), "application/json"
    )
    assert own.json() == {"target": alice.pk}
    other = client.post("/api/sessions/end/", {"email": "bob@example.com"})
    assert other.status_code == 403
    twice = client.post("/api/sessions/end/?email=bob@example.com", {"email": "alice@example.com"})
    assert twice.status_code == 400
    assert client.post("/api/sessions/end/", {"email": "nobody@example.com"}).status_code == 404
    assert list(ViewCall.objects.values_list("target", flat=True)) == [str(alice.pk)]


@override_settings(AUTHZGUARD_HIDE_EXISTENCE=True)
def test_drf_hide_existence(alice: User, bob: User) -> None:
    forbidden = signed_in(alice).get(f"/api/users/{bob.pk}/")
    missing = signed_in(alice).get("/api/users/999/")
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.content == missing.content


@override_settings(AUTHZGUARD_HIDE_EXISTENCE=True)
def test_drf_refuses_as_django_views_do(alice: User, bob: User) -> None:
    """One rule for every adapter: a malformed target is a 400, hidden denials a 404."""
    too_big = 2**64
    assert signed_in(alice).get(f"/api/users/{too_big}/").status_code == 400
    assert signed_in(alice).get(f"/users/{too_big}/").status_code == 400
    assert signed_in(alice).get(f"/api/users/{bob.pk}/").status_code == 404
    assert signed_in(alice).get(f"/users/{bob.pk}/").status_code == 404


@override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True)
def test_drf_views_are_not_refused_by_deny_by_default(carol: User, bob: User) -> None:
    assert signed_in(carol).get(f"/api/users/{bob.pk}/").status_code == 200


def test_drf_viewset_actions(alice: User, bob: User, carol: User) -> None:
    note = Note.objects.create(owner=alice, slug="n", title="Old")
    url = f"/api/notes/{note.pk}/"
    assert signed_in(carol).get(url).json() == {"id": note.pk, "title": "Old"}
    assert signed_in(bob).get(url).status_code == 403
    put = json.dumps({"title": "New"})
    assert signed_in(carol).put(url, put, "application/json").status_code == 403
    assert signed_in(alice).put(url, put, "application/json").status_code == 200
    # Methods the viewset leaves out are refused (405), never allowed by omission: PATCH,
    # which no note action declares, and DELETE, which it does not serve; no list route.
    assert signed_in(alice).patch(url, put, "application/json").status_code == 405
    assert signed_in(alice).delete(url).status_code == 405
    assert signed_in(carol).get("/api/notes/").status_code == 404
    assert Note.objects.get(pk=note.pk).title == "New"


# -- backend -------------------------------------------------------------------------------


@override_settings(AUTHENTICATION_BACKENDS=BACKENDS)
def test_has_perm_asks_the_policy(alice: User, bob: User, carol: User) -> None:
    note = Note.objects.create(owner=alice, slug="n", title="t")
    assert alice.has_perm("note.edit", note)
    assert not User.objects.get(pk=bob.pk).has_perm("note.edit", note)
    assert carol.has_perm("note.read", note)
    assert not carol.has_perm("note.edit", note)
    assert User.objects.get(pk=alice.pk).has_perm("user.read", alice)
    assert not User.objects.get(pk=alice.pk).has_perm("user.read", bob)
    # Undeclared kinds, actions and Django-style names are left to other backends.
    assert not alice.has_perm("note.destroy", note)
    assert not alice.has_perm("nonsense", note)
    assert not alice.has_perm("auth.delete_user")
    alice.is_active = False
    assert not alice.has_perm("note.edit", note)


def test_allows_asks_the_policy_even_for_superusers(admin: User) -> None:
    from authzguard.backends import allows

    assert allows(admin, "delete", "user", User(pk=12345))
    assert not allows(AnonymousUser(), "read", "user", admin)
    assert not allows(admin, "delete", "no-such-kind", admin)


# -- template tag --------------------------------------------------------------------------


def test_template_tag(alice: User, carol: User, bob: User) -> None:
    template = Template(
        '{% load authzguard %}{% authz_allows "read" "user" target as can %}'
        "{% if can %}shown{% else %}hidden{% endif %}"
    )
    request = RequestFactory().get("/")
    for user, target, expected in [
        (alice, alice, "shown"),
        (alice, bob, "hidden"),
        (carol, bob, "shown"),
        (AnonymousUser(), bob, "hidden"),
    ]:
        request.user = user
        assert template.render(Context({"request": request, "target": target})) == expected
    assert template.render(Context({"user": carol, "target": bob})) == "shown"
    assert template.render(Context({"target": bob})) == "hidden"
