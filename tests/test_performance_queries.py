"""The authz layer's queries do not grow with the policy: the target lookup and one group query.

A view protected by ``@authorize`` is compared with the same view written by hand
(``login_required`` and its own ``get_object_or_404``) under a small and a large policy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group, User
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path

from authzguard.decorators import authorize
from authzguard.runtime import reset_policy

pytestmark = pytest.mark.django_db

KINDS = 5
TEAMS = 50
#: A kind whose read rules name group-granted roles at every size, so groups matter.
KIND = "kind1"


def policy_yaml(n_rules: int) -> str:
    lines = ["version: 1", "roles:"]
    for t in range(TEAMS):
        lines += [f"  team{t}:", f"    granted_to: [{{group: team-{t}}}]"]
    lines.append("resources:")
    for k in range(KINDS):
        lines += [
            f"  kind{k}:",
            "    model: auth.User",
            "    actions: {read: {}}",
            "    attributes:",
            "      owner: {type: key, field: pk}",
            "      id: {type: key, field: pk}",
        ]
    lines.append("rules:")
    for i in range(n_rules):
        k, j = i % KINDS, i // KINDS
        subject = "authenticated" if j == 0 else f"team{(i * 7) % TEAMS}"
        lines += [
            f"  - id: r{i}",
            "    effect: allow",
            f"    subjects: [{subject}]",
            "    actions: [read]",
            f"    resource: kind{k}",
        ]
        if j == 0 or j % 2:
            lines.append("    when: resource.owner == subject.id")
    # The member's team reads every record of the kind: its access to others' records
    # comes through the group, so only then is the group query needed.
    lines += [
        "  - id: team3-reads-all",
        "    effect: allow",
        "    subjects: [team3]",
        "    actions: [read]",
        f"    resource: {KIND}",
    ]
    return "\n".join(lines) + "\n"


@login_required
def fetch_by_hand(request: HttpRequest, id: str) -> HttpResponse:
    user = get_object_or_404(User, pk=id)
    return HttpResponse(user.get_username())


@authorize("read", KIND, target="id", source="path")
def protected(request: HttpRequest, id: str) -> HttpResponse:
    user = request.authz.target  # type: ignore[attr-defined]
    return HttpResponse(user.get_username())


urlpatterns = [
    path("by-hand/<str:id>/", fetch_by_hand),
    path("protected/<str:id>/", protected),
]


@pytest.fixture
def member() -> User:
    user = User.objects.create_user("member", "member@example.com", "pw")
    user.groups.add(Group.objects.create(name="team-3"))
    return user


def _queries(client: Client, url: str, expected: bytes) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert response.content == expected
    return [q["sql"] for q in captured.captured_queries]


def test_queries_stay_the_same_from_10_to_2000_rules(
    tmp_path: Path, member: User, django_assert_num_queries: Any
) -> None:
    other = User.objects.create_user("other", "other@example.com", "pw")
    client = Client()
    client.force_login(member)
    counts = []
    for n_rules in (10, 2000):
        directory = tmp_path / str(n_rules)
        directory.mkdir()
        (directory / "policy.yaml").write_text(policy_yaml(n_rules))
        with override_settings(ROOT_URLCONF=__name__, AUTHZGUARD_POLICY_PATHS=[directory]):
            reset_policy()
            by_hand = _queries(client, f"/by-hand/{member.pk}/", b"member")
            # session, request.user, the view's own fetch
            assert len(by_hand) == 3
            # A rule a group grants (the team's) is named on this action: the groups are
            # read before the lookup on every request, one's own record included.
            # Session, request.user, groups, the target (the view reuses it): the
            # hand-written view's three plus the group query.
            with django_assert_num_queries(4):
                client.get(f"/protected/{member.pk}/")
            own = _queries(client, f"/protected/{member.pk}/", b"member")
            assert sum("auth_group" in sql for sql in own[2:]) == 1
            # Another user's record: the same queries, in the same order.
            with django_assert_num_queries(4):
                client.get(f"/protected/{other.pk}/")
            queries = _queries(client, f"/protected/{other.pk}/", b"other")
            extra = queries[2:]
            assert "auth_group" in extra[0]
            assert sum("auth_group" in sql for sql in extra) == 1
            assert sum('"auth_user"' in sql and "auth_group" not in sql for sql in extra) == 1
            counts.append((len(own), len(queries)))
    assert counts[0] == counts[1]


DENY_POLICY = """\
version: 1
roles:
  team:
    granted_to: [{group: team}]
resources:
  profile:
    model: auth.User
    actions: {read: {}}
    attributes:
      id: {type: key, field: pk}
      active: {type: bool, field: is_active}
      staff: {type: bool, field: is_staff}
rules:
  - {id: own, effect: allow, subjects: [authenticated], actions: [read], resource: profile,
     when: resource.id == subject.id}
  - {id: team-reads, effect: allow, subjects: [team], actions: [read], resource: profile}
  - {id: team-not-staff, effect: deny, subjects: [team], actions: [read], resource: profile,
     when: resource.staff == true}
  - {id: hide-inactive, effect: deny, subjects: ["*"], actions: [read], resource: profile,
     when: resource.active == false}
"""


@authorize("read", "profile", target="id", source="path")
def profile(request: HttpRequest, id: str) -> HttpResponse:
    return HttpResponse(request.authz.target.get_username())  # type: ignore[attr-defined]


class DenyUrls:
    """A URLconf of its own (Django takes any object with ``urlpatterns``)."""

    urlpatterns = [path("profile/<str:id>/", profile)]


def test_a_refused_callers_queries_do_not_tell_which_deny_matched(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Groups can only add rules, so a deny found without them stands; they are read all
    the same, so that a refused caller's queries do not depend on whether the object
    matched a deny rule's condition, and the audit names the rule that deciding with
    every role names."""
    (tmp_path / "policy.yaml").write_text(DENY_POLICY)
    outsider = User.objects.create_user("outsider", "o@example.com", "pw")
    member = User.objects.create_user("member", "m@example.com", "pw")
    member.groups.add(Group.objects.create(name="team"))
    active = User.objects.create_user("active", "a@example.com", "pw")
    inactive = User.objects.create_user("inactive", "i@example.com", "pw", is_active=False)
    boss = User.objects.create_user("boss", "b@example.com", "pw", is_active=False, is_staff=True)
    client = Client()
    client.force_login(outsider)
    queries = {}
    with override_settings(ROOT_URLCONF=DenyUrls, AUTHZGUARD_POLICY_PATHS=[tmp_path]):
        reset_policy()
        for target in (active, inactive):  # no rule matches / hide-inactive denies
            with CaptureQueriesContext(connection) as captured:
                assert client.get(f"/profile/{target.pk}/").status_code == 403
            queries[target.username] = [q["sql"] for q in captured.captured_queries]
        client.force_login(member)
        with caplog.at_level(logging.INFO, logger="authzguard.audit"):
            assert client.get(f"/profile/{active.pk}/").status_code == 200
            assert client.get(f"/profile/{boss.pk}/").status_code == 403
    reset_policy()
    # Session, request.user, the target, the groups: the same four either way.
    assert len(queries["active"]) == len(queries["inactive"]) == 4
    assert all(sum("auth_group" in sql for sql in q) == 1 for q in queries.values())
    records = [r.authz for r in caplog.records if r.name == "authzguard.audit"]  # type: ignore[attr-defined]
    assert [(r["decision"], r["rule"]) for r in records] == [
        ("allow", "team-reads"),
        ("deny", "team-not-staff"),  # with the group; without it, hide-inactive
    ]
