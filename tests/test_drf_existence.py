"""AUTHZGUARD_HIDE_EXISTENCE on DRF views (issue 10, item 5): a refused caller cannot tell
an existing object from a missing one, by status, body or the number of queries run.

The note kind reads ``owner.pk``: looked up without the decorator's join, an existing
note cost one query more (the owner, loaded lazily) than a missing one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests.testapp.models import Note

pytest.importorskip("rest_framework")
from rest_framework.test import APIClient

POLICY = Path(__file__).parent / "drf_policies" / "drf.yaml"
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_urls")]
MISSING = 999_999


@pytest.fixture(autouse=True)
def hidden() -> Iterator[None]:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICY], AUTHZGUARD_HIDE_EXISTENCE=True):
        yield


def client(user: User | None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_login(user)
    return api


def answer(user: User | None, method: str, url: str) -> tuple[int, bytes, int]:
    api = client(user)
    api.get("/accounts/login/")  # one-time work (policy load, caches) before counting
    with CaptureQueriesContext(connection) as queries:
        response = getattr(api, method)(url)
    return response.status_code, response.content, len(queries)


def same_answer(user: User | None, method: str, existing: str, missing: str) -> int:
    forbidden = answer(user, method, existing)
    absent = answer(user, method, missing)
    assert forbidden == absent, (forbidden, absent)
    return forbidden[0]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_model_viewset(alice: User, bob: User, carol: User, method: str) -> None:
    note = Note.objects.create(owner=alice, slug="a", title="t")
    existing, missing = f"/notes/{note.pk}/", f"/notes/{MISSING}/"
    assert same_answer(bob, method, existing, missing) == 404
    if method != "get":  # support may read any note, not change one
        assert same_answer(carol, method, existing, missing) == 404
    assert same_answer(None, method, existing, missing) == 403
    assert Note.objects.filter(pk=note.pk).exists()


@pytest.mark.parametrize("method", ["get", "delete"])
def test_retrieve_destroy(alice: User, bob: User, carol: User, method: str) -> None:
    existing, missing = f"/accounts/{bob.pk}/", f"/accounts/{MISSING}/"
    assert same_answer(alice, method, existing, missing) == 404
    if method == "delete":
        assert same_answer(carol, method, existing, missing) == 404
    assert same_answer(None, method, existing, missing) == 403


@pytest.mark.parametrize("method", ["get", "delete"])
def test_plain_api_view(alice: User, bob: User, method: str) -> None:
    existing, missing = f"/plain/{bob.pk}/", f"/plain/{MISSING}/"
    assert same_answer(alice, method, existing, missing) == 404
    assert same_answer(None, method, existing, missing) == 403


def test_the_owner_still_gets_the_note(alice: User) -> None:
    note = Note.objects.create(owner=alice, slug="a", title="t")
    status, _, _ = answer(alice, "get", f"/notes/{note.pk}/")
    assert status == 200
