"""The two seed flows and every enforcement rule, through real requests (sync and async)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import AsyncClient, Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.testapp.models import Note, ViewCall

pytestmark = pytest.mark.django_db

VARIANTS = Path(__file__).parent / "enforcement_policies"
WITHOUT_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

END = ["/sessions/end/", "/async/sessions/end/"]
DELETE = ["/users/delete/", "/async/users/delete/", "/yaml/users/delete/"]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body: Any, **extra: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **extra)


def sessions_of(user: User) -> int:
    return sum(
        1
        for session in Session.objects.all()
        if session.get_decoded().get("_auth_user_id") == str(user.pk)
    )


# -- seed flow 1: end the sessions of the user with this email -----------------------------


@pytest.mark.parametrize("url", END)
def test_owner_ends_own_sessions(url: str, alice: User) -> None:
    signed_in(alice)  # a second session of alice's, on another "device"
    response = signed_in(alice).post(url, {"email": "alice@example.com"})
    assert response.status_code == 200
    assert response.json() == {"ended": 2}
    assert sessions_of(alice) == 0


@pytest.mark.parametrize("url", END)
@pytest.mark.parametrize("as_json", [False, True])
def test_other_user_cannot_end_sessions(url: str, as_json: bool, alice: User, bob: User) -> None:
    signed_in(bob)
    client = signed_in(alice)
    body = {"email": "bob@example.com"}
    response = post_json(client, url, body) if as_json else client.post(url, body)
    assert response.status_code == 403
    assert sessions_of(bob) == 1
    assert not ViewCall.objects.exists()


@pytest.mark.parametrize("url", END)
def test_admin_ends_anyones_sessions(url: str, admin: User, bob: User) -> None:
    signed_in(bob)
    response = post_json(signed_in(admin), url, {"email": "bob@example.com"})
    assert response.status_code == 200
    assert sessions_of(bob) == 0


@pytest.mark.parametrize("url", END + DELETE)
def test_anonymous_gets_login_redirect(url: str, bob: User) -> None:
    response = Client().post(url, {"email": "bob@example.com", "id": str(bob.pk)})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"
    assert User.objects.filter(pk=bob.pk).exists()
    assert not ViewCall.objects.exists()


@pytest.mark.parametrize("url", END + DELETE)
def test_anonymous_json_gets_401(url: str, bob: User) -> None:
    body = {"email": "bob@example.com", "id": bob.pk}
    for response in (
        post_json(Client(), url, body),
        Client().post(
            url,
            {"email": "bob@example.com", "id": str(bob.pk)},
            headers={"Accept": "application/json"},
        ),
    ):
        assert response.status_code == 401
        assert response.json()["error"] == "authentication_required"
    assert not ViewCall.objects.exists()


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.api+json"])
def test_a_json_body_is_read_and_refused_as_json(bob: User, content_type: str) -> None:
    body = json.dumps({"email": "bob@example.com"})
    response = Client().post("/sessions/end/", body, content_type=content_type)
    assert response.status_code == 401
    assert response.wsgi_request.authz.source == "json"  # type: ignore[attr-defined]
    assert not ViewCall.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "status"), [("text/x+json", 302), ("application/x+json", 401)]
)
def test_the_refusal_takes_json_as_the_body_reader_does(
    bob: User, content_type: str, status: int
) -> None:
    """Only ``application/json`` and ``application/*+json`` are JSON, here as for the body."""
    response = Client().get(f"/users/{bob.pk}/", CONTENT_TYPE=content_type)
    assert response.status_code == status


@pytest.mark.parametrize("url", END + DELETE)
@pytest.mark.parametrize("method", ["get", "head", "put", "patch", "options"])
def test_wrong_method_is_405_before_any_query(
    url: str, method: str, admin: User, django_assert_num_queries: Any
) -> None:
    client = signed_in(admin)
    with django_assert_num_queries(0):
        response = getattr(client, method)(f"{url}?id={admin.pk}&email=root@example.com")
    assert response.status_code == 405
    assert set(response["Allow"].split(", ")) == {"POST", "DELETE"}


@pytest.mark.parametrize("url", DELETE)
def test_method_override_is_ignored(url: str, admin: User, bob: User) -> None:
    client = signed_in(admin)
    overrides = {"X-HTTP-Method-Override": "POST", "X-Method-Override": "POST"}
    response = client.get(f"{url}?id={bob.pk}&_method=POST", headers=overrides)
    assert response.status_code == 405
    # A POST that claims to be a GET is still a POST: the state-changing check applies.
    signed_in(bob)
    alice = User.objects.create_user("alice2", "a2@example.com", "pw")
    response = signed_in(alice).post(
        url, {"id": str(bob.pk), "_method": "GET"}, headers={"X-HTTP-Method-Override": "GET"}
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=bob.pk).exists()


def test_head_is_get(carol: User, bob: User) -> None:
    client = signed_in(carol)
    assert client.head(f"/users/{bob.pk}/").status_code == 200
    assert client.post(f"/users/{bob.pk}/").status_code == 405


# -- duplicated and malformed parameters ---------------------------------------------------


@pytest.mark.parametrize("url", END)
def test_duplicated_email_is_400(url: str, alice: User, bob: User) -> None:
    client = signed_in(alice)
    cases = [
        client.post(
            url,
            "email=alice@example.com&email=bob@example.com",
            content_type="application/x-www-form-urlencoded",
        ),
        client.post(f"{url}?email=alice@example.com", {"email": "bob@example.com"}),
        client.post(f"{url}?email=bob@example.com", {"email": "alice@example.com"}),
        post_json(client, f"{url}?email=bob@example.com", {"email": "alice@example.com"}),
        post_json(client, url, '{"email": "alice@example.com", "email": "bob@example.com"}'),
    ]
    assert [r.status_code for r in cases] == [400] * len(cases)
    assert sessions_of(bob) == 0 and sessions_of(alice) == 1
    assert not ViewCall.objects.exists()


def test_duplicated_query_parameter_is_400(carol: User, bob: User) -> None:
    client = signed_in(carol)
    assert client.get(f"/async/users/?id={bob.pk}&id={carol.pk}").status_code == 400
    assert client.get(f"/users/{bob.pk}/?id={carol.pk}").status_code == 400


def test_duplicated_form_and_file_is_400(admin: User, bob: User) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in(admin)
    upload = SimpleUploadedFile("id", str(bob.pk).encode())
    response = client.post("/users/delete/", {"id": [str(bob.pk), upload]})
    assert response.status_code == 400
    assert User.objects.filter(pk=bob.pk).exists()


def test_query_replaced_by_earlier_code_is_still_seen(admin: User, bob: User) -> None:
    from django.http import QueryDict
    from django.test import RequestFactory

    from authzguard.guard import Binding, evaluate
    from authzguard.policy.model import TargetSpec

    request = RequestFactory().post("/users/delete/", {"id": bob.pk})
    request.user = admin
    request.GET = QueryDict(f"id={admin.pk}")  # e.g. a middleware that rewrote the query
    binding = Binding("delete", "user", TargetSpec(param="id", source="body"))
    assert evaluate(request, binding, {}).status == "bad_request"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=200, DATA_UPLOAD_MAX_NUMBER_FIELDS=5)
def test_oversized_bodies_are_400(admin: User, bob: User) -> None:
    client = signed_in(admin)
    assert post_json(client, "/users/delete/", {"id": bob.pk, "pad": "x" * 500}).status_code == 400
    fields = "&".join(f"f{i}=1" for i in range(10)) + f"&id={bob.pk}"
    form = client.post("/users/delete/", fields, content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400
    assert User.objects.filter(pk=bob.pk).exists()


def test_body_parameter_in_query_only_is_400(admin: User, bob: User) -> None:
    response = signed_in(admin).post(f"/users/delete/?id={bob.pk}")
    assert response.status_code == 400
    assert User.objects.filter(pk=bob.pk).exists()


MALFORMED_IDS = [
    "-1", "+1", " 1", "1 ", "1\n", "٣", "\uff11", "1.0", "1e3", "0x1", "01", "", "1_000",
    "9" * 30, "99999999999999999999", "true", "null", "\x00", "1\x00",
]  # fmt: skip
MALFORMED_JSON_IDS: list[Any] = [
    True, False, None, 1.0, 2.5, -1, [1], {"id": 1}, 2**70, "١٢", " 1",
]  # fmt: skip


@pytest.mark.parametrize("url", DELETE)
@pytest.mark.parametrize("value", MALFORMED_IDS)
def test_malformed_form_id_is_400(url: str, value: str, admin: User, bob: User) -> None:
    response = signed_in(admin).post(url, {"id": value})
    assert response.status_code == 400
    assert User.objects.count() == 2
    assert not ViewCall.objects.exists()


@pytest.mark.parametrize("url", DELETE)
@pytest.mark.parametrize("value", MALFORMED_JSON_IDS)
def test_malformed_json_id_is_400(url: str, value: Any, admin: User, bob: User) -> None:
    response = post_json(signed_in(admin), url, {"id": value})
    assert response.status_code == 400
    assert User.objects.count() == 2


@pytest.mark.parametrize(
    "body", ["{", "[1, 2]", '{"id": NaN}', '{"id": Infinity}', "[" * 100_000, '"id"']
)
def test_unparsable_or_non_object_json_is_400(body: str, admin: User) -> None:
    assert post_json(signed_in(admin), "/users/delete/", body).status_code == 400


@pytest.mark.parametrize("value", ["-1", "1.5", "٣", "x" * 300, "a b"])
def test_malformed_path_and_query_values_are_400(value: str, carol: User) -> None:
    from urllib.parse import quote

    client = signed_in(carol)
    assert client.get(f"/users/{quote(value)}/").status_code == 400
    assert client.get("/async/users/", {"id": value}).status_code == 400


@pytest.mark.parametrize(
    "email", ["x" * 300 + "@example.com", "bob@example.com\x00", " bob@example.com", "\ud800"]
)
def test_malformed_email_is_400(email: str, alice: User, bob: User) -> None:
    response = post_json(signed_in(alice), "/sessions/end/", {"email": email})
    assert response.status_code == 400


def test_malformed_uuid_is_400(alice: User) -> None:
    note = Note.objects.create(owner=alice, slug="n", title="t")
    client = signed_in(alice)
    assert client.get("/notes/by-token/", {"token": str(note.token)}).status_code == 200
    for bad in ["not-a-uuid", str(note.token) + "0", "{" + str(note.token) + "}"]:
        assert client.get("/notes/by-token/", {"token": bad}).status_code == 400


def test_missing_parameter_is_400(admin: User) -> None:
    assert signed_in(admin).post("/users/delete/").status_code == 400
    assert post_json(signed_in(admin), "/users/delete/", {}).status_code == 400


def test_unknown_target_is_404(admin: User) -> None:
    response = post_json(signed_in(admin), "/users/delete/", {"id": 987654})
    assert response.status_code == 404


def test_ambiguous_target_is_refused(admin: User) -> None:
    User.objects.create_user("twin1", "twin@example.com", "pw")
    User.objects.create_user("twin2", "twin@example.com", "pw")
    response = post_json(signed_in(admin), "/sessions/end/", {"email": "twin@example.com"})
    assert response.status_code == 400
    assert not ViewCall.objects.exists()


def test_string_digits_in_json_are_accepted(admin: User, bob: User) -> None:
    response = post_json(signed_in(admin), "/users/delete/", {"id": str(bob.pk)})
    assert response.status_code == 200
    assert not User.objects.filter(pk=bob.pk).exists()


# -- seed flow 2: delete the user with this id ---------------------------------------------


@pytest.mark.parametrize("url", DELETE)
@pytest.mark.parametrize("as_json", [False, True])
def test_admin_deletes_user(url: str, as_json: bool, admin: User, bob: User) -> None:
    client = signed_in(admin)
    response = (
        post_json(client, url, {"id": bob.pk}) if as_json else client.post(url, {"id": bob.pk})
    )
    assert response.status_code == 200
    assert response.json() == {"deleted": bob.pk}
    assert not User.objects.filter(pk=bob.pk).exists()


@pytest.mark.parametrize("url", DELETE)
def test_other_user_cannot_delete(url: str, alice: User, bob: User, carol: User) -> None:
    for user in (alice, carol):
        for response in (
            signed_in(user).post(url, {"id": bob.pk}),
            post_json(signed_in(user), url, {"id": bob.pk}),
            signed_in(user).post(url, {"id": user.pk}),
        ):
            assert response.status_code == 403
    assert User.objects.count() == 3
    assert not ViewCall.objects.exists()


def test_delete_with_http_delete_method(admin: User, bob: User) -> None:
    response = signed_in(admin).delete(
        "/users/delete/", json.dumps({"id": bob.pk}), content_type="application/json"
    )
    assert response.status_code == 200


def test_async_client_runs_the_same_checks(alice: User, bob: User, admin: User) -> None:
    # Through the ASGI handler; async_to_sync keeps the ORM on the test's connection.
    async_to_sync(_async_client_checks)(alice, bob, admin)


async def _async_client_checks(alice: User, bob: User, admin: User) -> None:
    client = AsyncClient()
    await client.aforce_login(alice)
    denied = await client.post("/async/users/delete/", {"id": bob.pk})
    assert denied.status_code == 403
    assert await User.objects.filter(pk=bob.pk).aexists()
    assert (await client.get("/async/users/delete/")).status_code == 405
    assert (await client.post("/async/users/delete/", {"id": "٣"})).status_code == 400
    await client.aforce_login(admin)
    allowed = await client.post(
        "/async/users/delete/", {"id": bob.pk}, content_type="application/json"
    )
    assert allowed.status_code == 200
    assert not await User.objects.filter(pk=bob.pk).aexists()
    anonymous = await AsyncClient().post("/async/sessions/end/", {"email": "root@example.com"})
    assert anonymous.status_code == 302


# -- the check runs before the view, once, and fails closed --------------------------------


def test_resolver_exception_denies(alice: User, caplog: pytest.LogCaptureFixture) -> None:
    Note.objects.create(owner=alice, slug="mine", title="t")
    with caplog.at_level(logging.ERROR, logger="authzguard"):
        response = signed_in(alice).post("/notes/edit-broken/")
    assert response.status_code == 403
    assert not ViewCall.objects.exists()
    assert "the resolver blew up" in caplog.text


def test_custom_resolver(alice: User, bob: User) -> None:
    Note.objects.create(owner=alice, slug="mine", title="t")
    Note.objects.create(owner=bob, slug="bobs", title="t")
    client = signed_in(alice)
    assert client.post("/notes/edit-by-header/", headers={"X-Note": "mine"}).status_code == 200
    assert client.post("/notes/edit-by-header/", headers={"X-Note": "bobs"}).status_code == 403
    assert client.post("/notes/edit-by-header/", headers={"X-Note": "none"}).status_code == 404
    assert client.post("/notes/edit-by-header/", headers={"X-Note": "ñ"}).status_code == 400
    assert list(ViewCall.objects.values_list("view", flat=True)) == ["edit_note_by_header"]


def test_resolver_raising_django_exceptions(alice: User, bob: User) -> None:
    Note.objects.create(owner=alice, slug="mine", title="t")
    Note.objects.create(owner=bob, slug="bobs", title="t")
    client = signed_in(alice)
    assert client.post("/notes/edit-strict/", headers={"X-Note": "mine"}).status_code == 200
    assert client.post("/notes/edit-strict/", headers={"X-Note": "bobs"}).status_code == 403
    assert client.post("/notes/edit-strict/", headers={"X-Note": "gone"}).status_code == 404
    assert client.post("/notes/edit-strict/", headers={"X-Note": "a-b"}).status_code == 400
    assert ViewCall.objects.count() == 1


def test_policy_exception_denies(
    admin: User, bob: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from authzguard.policy.compiler import CompiledPolicy

    def explode(self: Any, *args: Any) -> Any:
        raise RuntimeError("policy exploded")

    monkeypatch.setattr(CompiledPolicy, "decide", explode)
    with caplog.at_level(logging.ERROR, logger="authzguard"):
        response = signed_in(admin).post("/users/delete/", {"id": bob.pk})
    assert response.status_code == 403
    assert User.objects.filter(pk=bob.pk).exists()


def test_policy_that_does_not_load_denies(admin: User, bob: User) -> None:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[VARIANTS / "broken.yaml"]):
        for url in DELETE:
            assert signed_in(admin).post(url, {"id": bob.pk}).status_code == 403
            assert Client().post(url, {"id": bob.pk}).status_code == 302
        with override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True):
            assert signed_in(admin).get("/unbound/").status_code == 403
    assert User.objects.filter(pk=bob.pk).exists()
    assert not ViewCall.objects.exists()


@override_settings(MIDDLEWARE=WITHOUT_MIDDLEWARE)
@pytest.mark.parametrize("url", ["/users/delete/", "/async/users/delete/"])
def test_decorator_enforces_without_middleware(
    url: str, alice: User, bob: User, admin: User
) -> None:
    assert signed_in(alice).post(url, {"id": bob.pk}).status_code == 403
    assert signed_in(alice).get(url).status_code == 405
    assert signed_in(alice).post(url, {"id": "-1"}).status_code == 400
    assert User.objects.filter(pk=bob.pk).exists()
    assert signed_in(admin).post(url, {"id": bob.pk}).status_code == 200


@pytest.mark.parametrize("url", ["/users/delete/", "/async/users/delete/"])
@pytest.mark.parametrize("middleware", [True, False])
def test_one_audit_record_per_request(
    url: str, middleware: bool, admin: User, bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    stack = None if middleware else WITHOUT_MIDDLEWARE
    with override_settings(**({"MIDDLEWARE": stack} if stack else {})):
        client = signed_in(admin)
        with caplog.at_level(logging.INFO, logger="authzguard.audit"):
            response = client.post(url, {"id": bob.pk}, headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    records = [r for r in caplog.records if r.name == "authzguard.audit"]
    assert len(records) == 1
    record = records[0].authz  # type: ignore[attr-defined]
    from authzguard.runtime import get_policy

    assert record["event"] == "decision"
    assert record["time"]
    assert record["request_id"] == "req-42"
    assert record["subject"] == admin.pk
    assert record["roles"] == ["admin"]
    assert record["action"] == "delete"
    assert record["resource"] == "user"
    assert record["target_id"] == bob.pk
    assert record["parameter"] == "id"
    assert record["source"] == "form"
    assert record["decision"] == "allow"
    assert record["rule"] == "admin-delete-user"
    assert record["policy_version"] == get_policy().version
    assert isinstance(record["latency_ms"], float)
    assert json.loads(records[0].getMessage()) == json.loads(json.dumps(record, default=str))


def test_denials_are_audited(alice: User, bob: User, caplog: pytest.LogCaptureFixture) -> None:
    client = signed_in(alice)
    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        client.post("/sessions/end/", {"email": "bob@example.com"})
        client.get("/sessions/end/")
        client.post("/sessions/end/", {"email": "\x00"}, headers={"X-Request-ID": "bad id!"})
    records = [r.authz for r in caplog.records if r.name == "authzguard.audit"]  # type: ignore[attr-defined]
    assert [(r["decision"], r["status"]) for r in records] == [
        ("deny", "deny"),
        ("deny", "method_not_allowed"),
        ("deny", "bad_request"),
    ]
    assert records[0]["target_id"] == bob.pk
    assert records[0]["source"] == "form"
    assert records[0]["rule"] is None
    assert records[2]["request_id"] != "bad id!"
    assert len(records[2]["request_id"]) == 32


def test_generated_request_ids_stay_unique_when_random_is_reseeded(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Applications and test plugins reseed the global ``random``: ids must not repeat."""
    import random

    client = signed_in(alice)
    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        for _ in range(3):
            random.seed(1234)
            client.get("/sessions/end/")
    ids = [r.authz["request_id"] for r in caplog.records if r.name == "authzguard.audit"]  # type: ignore[attr-defined]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


# -- the authorized object reaches the view; the layer adds only the lookups -------------


def test_authz_adds_only_target_lookup_and_one_group_query(
    carol: User, bob: User, django_assert_num_queries: Any
) -> None:
    client = signed_in(carol)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(f"/unprotected/users/{bob.pk}/").status_code == 200
    with CaptureQueriesContext(connection) as protected:
        assert client.get(f"/users/{bob.pk}/").status_code == 200
    # session + request.user (+ the baseline's own fetch of the target).
    assert len(baseline) == 3
    extra = [q["sql"] for q in protected.captured_queries[2:]]
    # The target lookup replaces the view's own fetch; only the group query is added.
    assert len(protected) == len(baseline) + 1
    assert any("auth_group" in sql for sql in extra)
    assert sum('"auth_user"' in sql and "auth_group" not in sql for sql in extra) == 1


def test_no_group_query_when_the_policy_names_no_group(
    admin: User, bob: User, django_assert_num_queries: Any
) -> None:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[VARIANTS / "nogroups.yaml"]):
        client = signed_in(admin)
        # session, request.user, target: no group query at all.
        with django_assert_num_queries(3):
            assert client.get("/async/users/", {"id": bob.pk}).status_code == 200


def test_denied_before_lookup_when_no_rule_can_allow(
    alice: User, bob: User, django_assert_num_queries: Any
) -> None:
    client = signed_in(alice)
    # session, request.user: the target is never looked up, and no rule on deleting
    # users names a group-granted role, so groups are not queried either.
    with django_assert_num_queries(2):
        assert client.post("/users/delete/", {"id": bob.pk}).status_code == 403
    with django_assert_num_queries(2):
        assert client.post("/users/delete/", {"id": 424242}).status_code == 403


def test_groups_are_queried_only_when_they_can_matter(
    carol: User, bob: User, admin: User, django_assert_num_queries: Any
) -> None:
    # Reading users: "support" (a group role) is named by a rule, so groups are read.
    with CaptureQueriesContext(connection) as reading:
        assert signed_in(carol).get(f"/users/{bob.pk}/").status_code == 200
    assert sum("auth_group" in q["sql"] for q in reading.captured_queries) == 1
    # Deleting users: only "admin" (superusers) is named: session, user, target.
    with CaptureQueriesContext(connection) as deleting:
        response = signed_in(admin).post("/yaml/users/delete/", {"id": bob.pk})
    assert response.status_code == 200
    assert not any("auth_group" in q["sql"] for q in deleting.captured_queries)


def test_view_reuses_authorized_object(alice: User, django_assert_num_queries: Any) -> None:
    note = Note.objects.create(owner=alice, slug="mine", title="Mine")
    client = signed_in(alice)
    # session, user, groups (a group rule, support-reads-notes, is named on reading notes,
    # so even the owner's groups are read), the note joined with its owner
    # (select_related), ViewCall insert.
    with django_assert_num_queries(5):
        response = client.get(f"/notes/{note.pk}/")
    assert response.json() == {"id": note.pk, "title": "Mine"}
    # The same without the insert: the view reads note.owner without another query.
    with django_assert_num_queries(4):
        assert client.get("/notes/by-token/", {"token": str(note.token)}).status_code == 200


def test_role_change_takes_effect_on_next_request(alice: User, bob: User) -> None:
    client = signed_in(alice)
    assert client.get(f"/users/{bob.pk}/").status_code == 403
    alice.groups.add(Group.objects.create(name="support"))
    assert client.get(f"/users/{bob.pk}/").status_code == 200
    alice.groups.clear()
    assert client.get(f"/users/{bob.pk}/").status_code == 403


def test_subject_reads_own_record_by_condition(alice: User, bob: User) -> None:
    client = signed_in(alice)
    assert client.get(f"/users/{alice.pk}/").status_code == 200
    assert client.get(f"/users/{bob.pk}/").status_code == 403


# -- denial shapes -------------------------------------------------------------------------


@override_settings(AUTHZGUARD_HIDE_EXISTENCE=True)
def test_hide_existence_gives_one_404(alice: User, bob: User) -> None:
    client = signed_in(alice)
    forbidden = client.get(f"/users/{bob.pk}/")
    missing = client.get("/users/987654/")
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.content == missing.content
    denied_delete = client.post("/users/delete/", {"id": bob.pk})
    missing_delete = client.post("/users/delete/", {"id": 987654})
    assert denied_delete.status_code == missing_delete.status_code == 404
    assert denied_delete.content == missing_delete.content
    assert Client().post("/users/delete/", {"id": bob.pk}).status_code == 302


@override_settings(AUTHZGUARD_HIDE_EXISTENCE=True)
def test_hide_existence_runs_the_same_queries_for_forbidden_and_missing(
    alice: User, bob: User
) -> None:
    """Counting queries must not tell them apart either: groups (which could matter for
    reading notes) are read before the lookup, found or not, when existence is hidden."""
    note = Note.objects.create(owner=bob, slug="bobs", title="Bob's")
    client = signed_in(alice)
    client.get("/users/987654/")  # warm up: session and user caches alike
    counts = []
    for url in (f"/notes/{note.pk}/", "/notes/987654/"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 404
        counts.append([q["sql"].split(" FROM ")[-1].split(" WHERE ")[0] for q in captured])
    assert counts[0] == counts[1]
    assert any("auth_group" in table for table in counts[0])


def test_forbidden_is_django_permission_denied(alice: User, bob: User) -> None:
    response = signed_in(alice).post("/users/delete/", {"id": bob.pk})
    assert response.status_code == 403
    # Rendered by Django's handler403, which never shows the policy's reasons.
    assert b"admin" not in response.content


# -- YAML routes, deny by default, exemptions ----------------------------------------------


def test_yaml_route_passes_target(admin: User, bob: User, alice: User) -> None:
    assert signed_in(alice).post("/yaml/users/delete/", {"id": bob.pk}).status_code == 403
    response = signed_in(admin).post("/yaml/users/delete/", {"id": bob.pk})
    assert response.json() == {"deleted": bob.pk}


@override_settings(AUTHZGUARD_POLICY_PATHS=[VARIANTS / "twice.yaml"])
def test_view_bound_twice_is_refused(admin: User, bob: User) -> None:
    assert signed_in(admin).post("/users/delete/", {"id": bob.pk}).status_code == 403
    assert User.objects.filter(pk=bob.pk).exists()


@override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True)
def test_deny_by_default(alice: User) -> None:
    client = signed_in(alice)
    assert client.get("/unbound/").status_code == 403
    assert Client().get("/unbound/").status_code == 302
    assert client.get("/public/").status_code == 200
    assert Client().get("/accounts/login/").status_code == 200
    assert not ViewCall.objects.exists()
    with override_settings(AUTHZGUARD_ALLOWED_VIEWS=["unb*"]):
        assert client.get("/unbound/").status_code == 200


def test_unbound_views_run_without_deny_by_default(alice: User) -> None:
    assert signed_in(alice).get("/unbound/").status_code == 200


# -- class-based views ---------------------------------------------------------------------


def test_class_based_view(alice: User, bob: User, carol: User) -> None:
    note = Note.objects.create(owner=alice, slug="mine", title="Mine")
    assert signed_in(alice).get(f"/notes/{note.pk}/").status_code == 200
    assert signed_in(carol).get(f"/notes/{note.pk}/").status_code == 200
    assert signed_in(bob).get(f"/notes/{note.pk}/").status_code == 403
    assert signed_in(alice).post(f"/notes/{note.pk}/").status_code == 405
    assert signed_in(alice).get("/notes/999/").status_code == 404
    assert ViewCall.objects.filter(view="note_detail").count() == 2


@pytest.mark.parametrize("middleware", [True, False])
def test_async_class_based_view(middleware: bool, alice: User, bob: User) -> None:
    Note.objects.create(owner=alice, slug="mine", title="Mine")
    stack = {} if middleware else {"MIDDLEWARE": WITHOUT_MIDDLEWARE}
    with override_settings(**stack):
        assert signed_in(bob).post("/async/notes/edit/", {"slug": "mine"}).status_code == 403
        assert signed_in(alice).post("/async/notes/edit/", {"slug": "mine"}).status_code == 200
        assert (
            signed_in(alice).post("/async/notes/edit/?slug=x", {"slug": "mine"}).status_code == 400
        )
    assert list(ViewCall.objects.values_list("view", flat=True)) == ["async_note_edit"]


def test_explicit_methods(alice: User, bob: User) -> None:
    Note.objects.create(owner=alice, slug="mine", title="Mine")
    assert signed_in(alice).put("/notes/mine/replace/").status_code == 200
    assert signed_in(alice).post("/notes/mine/replace/").status_code == 405
    assert signed_in(bob).put("/notes/mine/replace/").status_code == 403
    assert signed_in(alice).put("/notes/n%20o/replace/").status_code == 404  # no URL match


# -- the middleware called directly ----------------------------------------------------------


def test_middleware_called_directly(admin: User, alice: User, bob: User) -> None:
    from asgiref.sync import iscoroutinefunction
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from authzguard.middleware import AuthzGuardMiddleware
    from tests.testapp import views

    middleware = AuthzGuardMiddleware(lambda request: HttpResponse("view"))
    assert not iscoroutinefunction(middleware)

    def request_as(user: User) -> Any:
        request = RequestFactory().post("/yaml/users/delete/", {"id": bob.pk})
        request.user = user
        request.resolver_match = resolve("/yaml/users/delete/")
        return request

    kwargs: dict[str, Any] = {}
    assert middleware.process_view(request_as(admin), views.yaml_delete_user, (), kwargs) is None
    assert kwargs == {"target_user": bob}
    with pytest.raises(PermissionDenied):
        middleware.process_view(request_as(alice), views.yaml_delete_user, (), {})

    async def async_view(request: Any) -> HttpResponse:
        return HttpResponse("async")

    assert iscoroutinefunction(AuthzGuardMiddleware(async_view))


def test_method_decorator_on_dispatch(alice: User, bob: User) -> None:
    Note.objects.create(owner=alice, slug="mine", title="t")
    assert signed_in(bob).post("/notes/edit/", {"slug": "mine"}).status_code == 403
    assert signed_in(alice).get("/notes/edit/?slug=mine").status_code == 405
    assert signed_in(alice).post("/notes/edit/", {"slug": "mine"}).status_code == 200
    assert list(ViewCall.objects.values_list("view", flat=True)) == ["note_edit_dispatch"]
