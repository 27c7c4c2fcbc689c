"""Audit records say who was refused and why (issue 10, item 10): one record per
evaluation on every adapter, the real subject on a 405, and ``explain``'s word
``condition-false`` in the reason of a deny whose applicable rules' conditions were false,
with either engine.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import connection
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext

from authzguard import runtime
from authzguard.policy import Resource, Subject
from authzguard.policy.explain import explain
from tests.testapp.models import Note, ViewCall

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def decisions(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "authzguard.audit"]
    return [r for r in records if r["event"] == "decision"]


# -- 405: the real subject, no group query -----------------------------------------------------

#: (adapter, URL answering 405 to GET): the decorator, the mixin, a ``routes:`` binding
#: (the middleware alone), a decorated class's dispatch.
WRONG_METHOD = [
    ("decorator", "/users/delete/"),
    ("mixin", "/notes/mixin/edit-by-header/"),
    ("route", "/yaml/users/delete/"),
    ("dispatch", "/notes/edit/"),
]


@pytest.mark.parametrize(("adapter", "url"), WRONG_METHOD)
def test_a_405_records_the_signed_in_subject(
    adapter: str, url: str, carol: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = signed_in(carol)  # a group member: her roles would cost a query
    with (
        caplog.at_level(logging.INFO, logger="authzguard.audit"),
        CaptureQueriesContext(connection) as captured,
    ):
        response = client.get(url)
    assert response.status_code == 405
    [record] = decisions(caplog)
    assert (record["subject"], record["authenticated"]) == (carol.pk, True)
    assert record["status"] == "method_not_allowed"
    assert record["roles"] == []
    # request.user as Django reads it (session, user); never the groups.
    assert not any("auth_group" in q["sql"] for q in captured)
    assert len(captured) <= 2


def test_an_async_405_records_the_signed_in_subject(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    async def get() -> int:
        client = AsyncClient()
        await client.aforce_login(alice)
        return (await client.get("/async/users/delete/")).status_code

    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        # Through the ASGI handler; async_to_sync keeps the ORM on the test's connection.
        assert async_to_sync(get)() == 405
    [record] = decisions(caplog)
    assert (record["subject"], record["authenticated"]) == (alice.pk, True)


def test_an_anonymous_405_is_recorded_as_anonymous(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        assert Client().get("/users/delete/").status_code == 405
    [record] = decisions(caplog)
    assert (record["subject"], record["authenticated"]) == (None, False)


def test_a_405_with_nobody_listening_runs_no_query(
    alice: User, django_assert_num_queries: Any
) -> None:
    client = signed_in(alice)
    with django_assert_num_queries(0):
        assert client.get("/users/delete/").status_code == 405


# -- one record per evaluation ------------------------------------------------------------------


def test_every_adapter_writes_one_record_per_request(
    alice: User, bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    note = Note.objects.create(owner=alice, slug="mine", title="Mine")
    client = signed_in(alice)
    requests = [
        (client.get, f"/notes/{note.pk}/", {}, 200),  # mixin
        (client.get, f"/notes/by-token/?token={note.token}", {}, 200),  # decorator
        (client.post, "/notes/edit-by-header/", {"X-Note": "mine"}, 200),  # resolver
        (client.post, "/notes/mixin/edit-by-header/", {"X-Note": "mine"}, 200),
        (client.post, "/notes/edit/", {}, 400),  # dispatch, no slug
        (client.post, "/yaml/users/delete/", {}, 400),  # route, no id
        (client.get, f"/users/{bob.pk}/", {}, 403),
        (client.get, "/users/987654/", {}, 404),
        (client.put, "/notes/mine/replace/", {}, 200),
    ]
    for send, url, headers, status in requests:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="authzguard.audit"):
            assert send(url, headers=headers).status_code == status, url
        assert len(decisions(caplog)) == 1, url


# -- the reason of a deny whose conditions were false -----------------------------------------


@pytest.mark.parametrize("engine", ["indexed", "casbin"])
def test_a_false_condition_is_the_reason_on_both_engines(
    engine: str, alice: User, bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(AUTHZGUARD_ENGINE=engine):
        with caplog.at_level(logging.INFO, logger="authzguard.audit"):
            assert signed_in(alice).get(f"/users/{bob.pk}/").status_code == 403
        [record] = decisions(caplog)
        policy = runtime.get_policy()
        subject = Subject(id=alice.pk, username="alice", authenticated=True)
        steps = explain(policy, subject, "read", Resource("user", {"id": bob.pk})).steps
    # explain: read-self applied and its condition was false; support-reads-users did
    # not apply. The record says the same, in the same word.
    assert [(s.rule.id, s.outcome) for s in steps] == [
        ("support-reads-users", "subject-mismatch"),
        ("read-self", "condition-false"),
    ]
    assert record["rule"] is None
    assert record["reason"].removesuffix(" (casbin)") == (
        "denied: condition-false in rule 'read-self'"
    )
    assert "no rule matched" not in record["reason"]
    assert not ViewCall.objects.exists()


@pytest.mark.parametrize("engine", ["indexed", "casbin"])
def test_engines_give_the_same_no_match_reasons(engine: str) -> None:
    with override_settings(AUTHZGUARD_ENGINE=engine):
        policy = runtime.get_policy()
        member = Subject(id=1, authenticated=True, roles=policy.direct_roles(authenticated=True))
        anonymous = Subject(roles=policy.direct_roles(authenticated=False))
        notes = Resource("note", {"owner": 2, "id": 3})
        reasons = [
            policy.decide(member, "read", notes).reason,
            policy.decide(anonymous, "read", notes).reason,
            policy.decide(member, "fly", notes).reason,
        ]
    assert [r.removesuffix(" (casbin)") for r in reasons] == [
        "denied: condition-false in rule 'owner-uses-notes'",
        "denied: no rule matched 'read' on 'note'",
        "denied: no rule grants 'fly' on 'note'",
    ]
