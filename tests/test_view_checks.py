"""Method mappings of class-based views and the exempt-view lists: checks and behaviour
(issue 12.1 and 12.6). This module is also the URLconf of its tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import User
from django.core.checks import Error, Warning
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from django.views import View

from authzguard import AuthorizeMixin
from authzguard.checks import MESSAGES as ENFORCEMENT_MESSAGES
from authzguard.checks import check_enforcement
from authzguard.conf import settings
from authzguard.contrib.drf_checks import MESSAGES as DRF_MESSAGES
from authzguard.mixins import shows_form_on_get
from authzguard.sessions.checks import MESSAGES as SESSION_MESSAGES
from authzguard.view_checks import MESSAGES
from tests.projectapp.fixtures import POLICY, client_for
from tests.projectapp.models import Project
from tests.projectapp.views import InvoiceCreate, ProjectArchive, ProjectDelete, ProjectUpdate

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


class ProjectTouch(AuthorizeMixin, View):
    """A GET that would change state: mapping it to ``edit`` is refused."""

    authz_actions = {"GET": "edit"}
    authz_resource = "project"
    authz_target = "pk"
    authz_source = "path"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        Project.objects.filter(pk=pk).update(name="touched")
        return HttpResponse("touched")


class ProjectEditWithOwnGet(ProjectUpdate):
    """Overrides get(): no longer Django's form display."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        Project.objects.filter(pk=kwargs["pk"]).update(name="touched")
        return super().get(request, *args, **kwargs)


def unbound(request: HttpRequest) -> HttpResponse:
    return HttpResponse("unbound")


def password_change(request: HttpRequest) -> HttpResponse:
    """A project's own view that reuses an auth URL name: not exempt by that name."""
    return HttpResponse("changed")


urlpatterns = [
    path("projects/<int:pk>/touch/", ProjectTouch.as_view(), name="project-touch"),
    path("projects/<int:pk>/edit-own/", ProjectEditWithOwnGet.as_view(), name="project-own"),
    path("unbound/", unbound, name="unbound"),
    path("mine/password/", password_change, name="password_change"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("acct/", include(("django.contrib.auth.urls", "acct"))),
]


@pytest.fixture(autouse=True)
def projects_policy() -> Any:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[POLICY]):
        yield


def found(*, ids: str = r"authzguard\.[EW]05\d") -> list[tuple[str, str]]:
    return sorted(
        (m.id or "", str(m.obj)) for m in check_enforcement() if re.fullmatch(ids, m.id or "")
    )


def test_messages_have_unique_ids_in_their_range_hints_and_docs() -> None:
    ids = [check_id for check_id, *_ in MESSAGES]
    assert len(ids) == len(set(ids))
    others = {i for i, *_ in (*ENFORCEMENT_MESSAGES, *DRF_MESSAGES, *SESSION_MESSAGES)}
    assert others.isdisjoint(ids)
    text = (ROOT / "docs" / "views.md").read_text()
    for check_id, level, message, hint in MESSAGES:
        assert re.fullmatch(r"authzguard\.[EW]05\d", check_id)
        assert (level is Error) == check_id.startswith("authzguard.E")
        assert level in (Error, Warning) and message and hint.strip()
        assert f"`{check_id}`" in text


def test_form_display_is_detected_on_django_form_views_only() -> None:
    assert shows_form_on_get(ProjectUpdate) and shows_form_on_get(ProjectDelete)
    assert shows_form_on_get(ProjectArchive) and shows_form_on_get(InvoiceCreate)
    assert not shows_form_on_get(ProjectEditWithOwnGet)
    assert not shows_form_on_get(ProjectTouch)


@pytest.mark.urls(__name__)
def test_get_mapped_to_a_state_changing_action_is_an_error_and_a_405(
    people: dict[str, User | None], project: Project
) -> None:
    assert found(ids=r"authzguard\.E050") == [("authzguard.E050", "project-touch")]
    client = client_for(people, "owner")
    assert client.get(f"/projects/{project.pk}/touch/").status_code == 405
    project.refresh_from_db()
    assert project.name == "Apollo"


@pytest.mark.urls(__name__)
def test_an_overridden_get_is_not_a_form_display(
    people: dict[str, User | None], project: Project
) -> None:
    assert found(ids=r"authzguard\.W051") == [("authzguard.W051", "project-own")]
    client = client_for(people, "owner")
    assert client.get(f"/projects/{project.pk}/edit-own/").status_code == 405
    project.refresh_from_db()
    assert project.name == "Apollo"
    assert client.post(f"/projects/{project.pk}/edit-own/", {"name": "Vega"}).status_code == 302


def test_a_misdeclared_mapping_is_a_value_error() -> None:
    bad = type("Bad", (AuthorizeMixin, View), {"authz_actions": {"FETCH": "view"}})
    with pytest.raises(ValueError, match="no HTTP method"):
        bad.get_authz_bindings()
    empty = type("Empty", (AuthorizeMixin, View), {"authz_actions": {"GET": ""}})
    with pytest.raises(ValueError, match="must name an action"):
        empty.get_authz_bindings()
    both = type(
        "Both",
        (AuthorizeMixin, View),
        {"authz_action": "add_invoice", "authz_parent": "project", "authz_target": "pk"},
    )
    with pytest.raises(ValueError, match="not both"):
        both.get_authz_bindings()


@pytest.mark.urls("tests.projectapp.urls")
def test_the_example_app_passes_every_check_under_deny_by_default() -> None:
    """``django.contrib.auth.urls`` and DRF's router root need no exemption of their own."""
    with override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True):
        assert check_enforcement() == []


@pytest.mark.parametrize("setting", ["AUTHZGUARD_ALLOWED_VIEWS", "AUTHZGUARD_EXTRA_ALLOWED_VIEWS"])
def test_a_bare_star_is_a_warning(setting: str) -> None:
    with override_settings(**{setting: ["public:*", "*"]}):
        assert found(ids=r"authzguard\.W050") == [("authzguard.W050", "None")]
    with override_settings(**{setting: ["public:*"]}):
        assert found(ids=r"authzguard\.W050") == []


@pytest.mark.urls(__name__)
def test_extra_allowed_views_add_to_the_defaults() -> None:
    client = Client()
    with override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True):
        assert client.get("/unbound/").status_code == 302  # refused: sign in
        assert client.get("/accounts/login/").status_code == 200
        with override_settings(AUTHZGUARD_EXTRA_ALLOWED_VIEWS=["unbound"]):
            assert client.get("/unbound/").status_code == 200
            assert client.get("/accounts/login/").status_code == 200  # defaults kept
        with override_settings(AUTHZGUARD_ALLOWED_VIEWS=["unbound"]):
            assert client.get("/accounts/login/").status_code == 302  # replaced


@pytest.mark.urls(__name__)
def test_auth_views_are_exempt_by_class_under_any_name_not_by_a_reused_name() -> None:
    client = Client()
    with override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True):
        assert client.get("/acct/login/").status_code == 200  # "acct:login"
        assert client.get("/mine/password/").status_code == 302  # a project's own view
        unexempt = found(ids=r"authzguard\.W003")
    # Every view of django.contrib.auth.urls ("acct:password_reset_confirm"...) is exempt.
    assert unexempt == [("authzguard.W003", "password_change"), ("authzguard.W003", "unbound")]


def test_a_single_string_is_one_name_never_its_characters() -> None:
    with override_settings(AUTHZGUARD_EXTRA_ALLOWED_VIEWS="a*"):
        assert tuple(settings.EXTRA_ALLOWED_VIEWS) == ("a*",)
    with override_settings(AUTHZGUARD_ALLOWED_VIEWS="api:*"):
        assert tuple(settings.ALLOWED_VIEWS) == ("api:*",)


def test_a_form_views_get_follows_its_posts_mapped_action() -> None:
    mapped = type(
        "Mapped", (ProjectUpdate,), {"authz_action": None, "authz_actions": {"POST": "edit"}}
    )
    declared = mapped.get_authz_bindings()
    for method in ("GET", "HEAD"):
        shown = declared.for_method(method)
        assert shown is not None and shown.action == "edit" and shown.form_display
    submitted = declared.for_method("POST")
    assert submitted is not None and not submitted.form_display
    assert declared.for_method("PUT") is None and declared.methods == ("GET", "HEAD", "POST")
