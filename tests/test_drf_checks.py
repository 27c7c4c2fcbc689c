"""System checks for DRF views (authzguard.E030 to E039): each fires on its mistake only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.checks import Error
from django.db.models import QuerySet
from django.test import override_settings

from authzguard.checks import MESSAGES as ENFORCEMENT_MESSAGES
from authzguard.checks import UrlView, check_enforcement
from authzguard.runtime import get_policy
from authzguard.sessions.checks import MESSAGES as SESSION_MESSAGES

pytest.importorskip("rest_framework")
from rest_framework import generics, viewsets
from rest_framework.views import APIView

from authzguard.contrib.drf import AuthzGuardPermission
from authzguard.contrib.drf_checks import MESSAGES, drf_view_messages
from tests.testapp.models import Note

POLICY = Path(__file__).parent / "drf_policies" / "drf.yaml"
DOC = Path(__file__).resolve().parents[1] / "docs" / "views.md"


@pytest.fixture(autouse=True)
def drf_policy() -> Iterator[None]:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICY]):
        yield


def test_messages_have_unique_ids_in_their_range_and_hints() -> None:
    check_ids = [check_id for check_id, *_ in MESSAGES]
    assert len(check_ids) == len(set(check_ids))
    others = {check_id for check_id, *_ in (*ENFORCEMENT_MESSAGES, *SESSION_MESSAGES)}
    assert others.isdisjoint(check_ids)
    text = DOC.read_text()
    for check_id, level, message, hint in MESSAGES:
        assert re.fullmatch(r"authzguard\.E03\d", check_id) and level is Error
        assert message and hint.strip()
        assert f"`{check_id}`" in text


@pytest.mark.urls("tests.drf_urls")
def test_each_misdeclared_shape_is_found() -> None:
    found = sorted((m.id or "", str(m.obj)) for m in check_enforcement())
    assert found == [
        ("authzguard.E030", "account-read-only"),
        ("authzguard.E031", "patched-note-detail"),
        ("authzguard.E032", "gadget"),
        ("authzguard.E033", "undeclared"),
        ("authzguard.E035", "patched-note-detail"),
        ("authzguard.E035", "patched-note-list"),
    ]
    (e030,) = [m for m in check_enforcement() if m.id == "authzguard.E030"]
    assert "GET" in e030.msg and "DELETE" in e030.msg and "authz_actions" in (e030.hint or "")


class _Guarded:
    permission_classes = [AuthzGuardPermission]


def messages(view: Any, captured: tuple[str, ...] = ("pk",), **actions: str) -> list[str]:
    callback = view.as_view(actions) if actions else view.as_view()
    url = UrlView("v", callback, frozenset(captured))
    return [m.id or "" for m in drf_view_messages(url, get_policy().policy)]


class Clean(_Guarded, generics.RetrieveDestroyAPIView):  # type: ignore[misc]
    queryset = User.objects.all()
    authz_resource = "user"
    authz_actions = {"GET": "read", "DELETE": "delete"}


class UndeclaredKind(Clean):
    authz_resource = "account"


class UndeclaredAction(Clean):
    authz_actions = {"GET": "view", "DELETE": "delete"}


class NoResource(Clean):
    authz_resource = None


class NotAName(Clean):
    authz_actions = {"GET": 1, "DELETE": "delete"}  # type: ignore[dict-item]


class BadLookupField(Clean):
    lookup_url_kwarg = "pk"
    lookup_field = "nickname"


class BadTarget(_Guarded, APIView):  # type: ignore[misc]
    authz_resource = "gadget"
    authz_action = "read"
    authz_target = "id"
    authz_source = "query"

    def get(self, request: Any) -> None:
        raise AssertionError("not run by a check")


class OwnQueryset(_Guarded, generics.RetrieveAPIView):  # type: ignore[misc]
    authz_resource = "gadget"
    authz_action = "read"

    def get_queryset(self) -> QuerySet[Note]:
        return Note.objects.all()


class NotesViewSet(_Guarded, viewsets.ModelViewSet):  # type: ignore[misc]
    queryset = Note.objects.all()
    authz_resource = "note"
    authz_actions = {
        "list": "list",
        "create": "create",
        "retrieve": "read",
        "update": "update",
        "partial_update": "update",
        "destroy": "delete",
    }


class NotesPartlyMapped(NotesViewSet):
    authz_actions = {"retrieve": "read", "update": "update", "destroy": "delete"}


class NotesWithoutPatch(NotesPartlyMapped):
    """An action left out by its method: DRF refuses PATCH itself."""

    http_method_names = ["get", "put", "delete", "head", "options"]


class NotesByMethod(NotesViewSet):
    """The old documented shape: GET would stand for list and retrieve alike."""

    authz_actions = {"GET": "read", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


class NotesMisspelt(NotesViewSet):
    authz_actions = {**NotesViewSet.authz_actions, "retreive": "read"}


class ByActionName(Clean):
    authz_actions = {"retrieve": "read", "destroy": "delete"}


class NotesOneAction(NotesViewSet):
    authz_actions = None
    authz_action = "read"


def test_checks_on_single_views() -> None:
    assert messages(Clean) == []
    assert messages(UndeclaredKind) == ["authzguard.E004"]
    assert messages(UndeclaredAction) == ["authzguard.E004"]
    assert messages(NoResource) == ["authzguard.E034"]
    assert messages(NotAName) == ["authzguard.E034"]
    assert messages(BadLookupField) == ["authzguard.E034"]
    assert messages(BadTarget, captured=()) == ["authzguard.E005"]
    # get_queryset() names the model at run time: no E032 for a kind without one.
    assert messages(OwnQueryset) == []
    # The format suffix kwarg is DRF's own, never a target.
    assert messages(Clean, captured=("format", "pk")) == []


def test_checks_on_viewset_routes() -> None:
    detail = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
    assert messages(NotesViewSet, **detail) == []
    assert messages(NotesViewSet, captured=(), get="list", post="create") == []
    # An unmapped action is a 405 at run time, and a start-up error.
    assert messages(NotesPartlyMapped, **detail) == ["authzguard.E035"]
    assert messages(NotesPartlyMapped, captured=(), get="list", post="create") == [
        "authzguard.E035"
    ]
    assert messages(NotesWithoutPatch, **detail) == []
    assert messages(NotesByMethod, **detail) == ["authzguard.E036"]
    assert messages(NotesMisspelt, **detail) == ["authzguard.E037"]
    # A view that is no viewset keys by method: action names are never read there.
    assert messages(ByActionName) == ["authzguard.E037", "authzguard.E037"]
    assert messages(NotesOneAction, **detail) == ["authzguard.E030"]
    assert messages(NotesOneAction, captured=(), get="list") == []
