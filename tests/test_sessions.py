"""Session index and purge on every engine, through real requests."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from authzguard.models import IndexedSession, SessionGeneration
from authzguard.sessions import (
    SessionInfo,
    UnsupportedSessionEngine,
    list_user_sessions,
    purge_user_sessions,
)
from authzguard.sessions.generations import GENERATION_SESSION_KEY
from authzguard.sessions.middleware import SessionIndexMiddleware
from tests.sessions_support import (
    MIDDLEWARE_WITHOUT_INDEX,
    engine,
    indexed_engine,
    indexed_keys,
    is_signed_in,
    make_user,
    session_key,
    session_settings,
    signed_in,
    store,
)

__all__ = ["engine", "indexed_engine", "session_settings"]  # fixtures, used by name

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    caplog.set_level(logging.INFO, logger="authzguard.audit")
    records: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.authz)  # type: ignore[attr-defined]

    handler = Collect()
    logging.getLogger("authzguard.audit").addHandler(handler)
    yield records
    logging.getLogger("authzguard.audit").removeHandler(handler)


def test_purge_ends_every_session_of_the_user_and_no_other(
    engine: str, audit_records: list[dict[str, Any]]
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    alice_laptop, alice_phone, bob_laptop = signed_in(alice), signed_in(alice), signed_in(bob)
    assert all(is_signed_in(b) for b in (alice_laptop, alice_phone, bob_laptop))

    ended = purge_user_sessions(alice, reason="test")

    assert not is_signed_in(alice_laptop)
    assert not is_signed_in(alice_phone)
    assert is_signed_in(bob_laptop)
    purges = [r for r in audit_records if r["event"] == "session.purge"]
    assert purges[-1]["user"] == str(alice.pk)
    assert purges[-1]["engine"] == engine
    assert purges[-1]["reason"] == "test"
    if engine == "signed_cookies":
        assert ended == 0  # the cookies held by browsers cannot be counted
        assert SessionGeneration.objects.get(user_pk=str(alice.pk)).generation == 1
    else:
        assert ended == 2 == purges[-1]["count"]
        assert indexed_keys(alice) == set()
        assert indexed_keys(bob) == {session_key(bob_laptop)}


@pytest.mark.parametrize("pk_form", [int, str])
def test_purge_accepts_the_primary_key_as_int_or_string(indexed_engine: str, pk_form: type) -> None:
    # Public snippets compare the session's string id to an int pk and delete nothing.
    alice = make_user("alice")
    browser = signed_in(alice)
    assert purge_user_sessions(pk_form(alice.pk)) == 1
    assert not is_signed_in(browser)


@pytest.mark.parametrize("name", ["db", "cached_db", "cache", "file"])
def test_purge_removes_the_store_entries_even_without_the_middleware(
    session_settings: Any, name: str
) -> None:
    from tests.sessions_support import ENGINES

    session_settings.SESSION_ENGINE = ENGINES[name]
    session_settings.MIDDLEWARE = MIDDLEWARE_WITHOUT_INDEX
    alice, bob = make_user("alice"), make_user("bob")
    alice_browser, bob_browser = signed_in(alice), signed_in(bob)
    key = session_key(alice_browser)
    assert store().exists(key)

    assert purge_user_sessions(alice) == 1

    assert not store().exists(key)
    assert store().exists(session_key(bob_browser))
    assert not is_signed_in(alice_browser)
    assert is_signed_in(bob_browser)


def test_purge_keep_spares_one_session(indexed_engine: str) -> None:
    alice = make_user("alice")
    kept, ended = signed_in(alice), signed_in(alice)
    assert purge_user_sessions(alice, keep=session_key(kept)) == 1
    assert is_signed_in(kept)
    assert not is_signed_in(ended)
    assert indexed_keys(alice) == {session_key(kept)}


def test_keep_is_refused_on_signed_cookies(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    alice = make_user("alice")
    with pytest.raises(UnsupportedSessionEngine, match="keep_current"):
        purge_user_sessions(alice, keep="anything")


def test_login_logout_and_key_rotation_keep_the_index_exact(indexed_engine: str) -> None:
    alice = make_user("alice")
    browser = signed_in(alice)
    first = session_key(browser)
    assert indexed_keys(alice) == {first}

    browser.post("/cycle/")
    second = session_key(browser)
    assert second != first
    assert indexed_keys(alice) == {second}
    assert is_signed_in(browser)

    browser.post("/logout/")
    assert indexed_keys(alice) == set()
    assert IndexedSession.objects.count() == 0


def test_signing_in_as_someone_else_moves_the_session_to_the_new_user(
    indexed_engine: str,
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    browser = signed_in(alice)
    old = session_key(browser)
    browser.post("/login/", {"username": "bob", "password": "correct horse battery staple"})
    assert session_key(browser) != old
    assert indexed_keys(alice) == set()
    assert indexed_keys(bob) == {session_key(browser)}
    assert purge_user_sessions(alice) == 0
    assert is_signed_in(browser)


def test_an_unindexed_session_is_refused(
    indexed_engine: str, audit_records: list[dict[str, Any]]
) -> None:
    # A store entry that outlived its index row (re-saved by a racing request, a stale
    # per-process cache, a session that predates the index) must not sign anyone in.
    alice = make_user("alice")
    browser = signed_in(alice)
    IndexedSession.objects.filter(user_id=alice.pk).delete()
    assert store().exists(session_key(browser))

    assert not is_signed_in(browser)
    refused = [r for r in audit_records if r["event"] == "session.refused"]
    assert refused == [refused[0]]
    assert refused[0]["reason"] == "not_indexed"
    assert refused[0]["user"] == str(alice.pk)


def test_an_index_row_of_another_user_does_not_vouch_for_a_session(indexed_engine: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    browser = signed_in(alice)
    IndexedSession.objects.filter(user_id=alice.pk).update(user_id=bob.pk)
    assert not is_signed_in(browser)


def test_signed_cookie_generation_makes_older_cookies_anonymous(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    alice = make_user("alice")
    before = signed_in(alice)
    purge_user_sessions(alice)
    after = signed_in(alice)  # signs in under the new generation
    assert after.session[GENERATION_SESSION_KEY] == 1
    assert not is_signed_in(before)
    assert is_signed_in(after)
    # A replayed copy of the old cookie stays anonymous as well.
    replay = Client()
    replay.cookies = before.cookies
    assert not is_signed_in(replay)


def test_last_seen_is_touched_at_most_once_per_interval(
    indexed_engine: str, session_settings: Any
) -> None:
    from django.utils import timezone

    alice = make_user("alice")
    browser = signed_in(alice)
    long_ago = timezone.now() - timedelta(hours=1)
    IndexedSession.objects.filter(user_id=alice.pk).update(last_seen=long_ago)
    session_settings.AUTHZGUARD_SESSION_TOUCH_INTERVAL = 60
    is_signed_in(browser)
    touched = IndexedSession.objects.get(user_id=alice.pk).last_seen
    assert touched > long_ago
    is_signed_in(browser)
    assert IndexedSession.objects.get(user_id=alice.pk).last_seen == touched


def test_client_info_is_opt_in(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    alice = make_user("alice")
    signed_in(alice)
    assert IndexedSession.objects.get().ip is None
    session_settings.AUTHZGUARD_SESSION_INDEX_CLIENT_INFO = True
    browser = Client(HTTP_USER_AGENT="TestBrowser/1.0", REMOTE_ADDR="192.0.2.7")
    browser.post("/login/", {"username": "alice", "password": "correct horse battery staple"})
    row = IndexedSession.objects.get(session_key=session_key(browser))
    assert (row.ip, row.user_agent) == ("192.0.2.7", "TestBrowser/1.0")


HOSTILE_AGENT = "Evil\x00Browser/1.0\r\n\x1b[31m\x85\t" + "x" * 1000
HOSTILE_ADDRESS = "fe80::1%eth\x000"  # REMOTE_ADDR as a proxy middleware may copy it


def test_client_info_is_cleaned_at_login_and_at_the_later_touch(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    session_settings.AUTHZGUARD_SESSION_INDEX_CLIENT_INFO = True
    session_settings.AUTHZGUARD_SESSION_TOUCH_INTERVAL = 0
    make_user("alice")
    browser = Client(HTTP_USER_AGENT=HOSTILE_AGENT, REMOTE_ADDR=HOSTILE_ADDRESS)
    response = browser.post(
        "/login/", {"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 200
    row = IndexedSession.objects.get(session_key=session_key(browser))
    assert row.ip == "fe80::1"
    assert row.user_agent == "EvilBrowser/1.0[31m" + "x" * 237
    assert len(row.user_agent) == 256

    IndexedSession.objects.update(last_seen=row.last_seen - timedelta(minutes=5), user_agent="")
    assert browser.get("/whoami/", HTTP_USER_AGENT="\x00\x7fOther\x00/2").status_code == 200
    assert IndexedSession.objects.get().user_agent == "Other/2"


def test_list_user_sessions_marks_the_current_one_and_hides_keys(indexed_engine: str) -> None:
    alice = make_user("alice")
    other, browser = signed_in(alice), signed_in(alice)
    signed_in(make_user("bob"))
    listed = json.loads(browser.get("/sessions/").content)["sessions"]
    assert len(listed) == 2
    assert [s["current"] for s in listed].count(True) == 1
    current = next(s["id"] for s in listed if s["current"])
    assert IndexedSession.objects.get(pk=current).session_key == session_key(browser)
    infos = list_user_sessions(alice)
    assert all(isinstance(i, SessionInfo) and not i.current for i in infos)
    assert session_key(other) not in repr(infos)
    assert session_key(other) not in str(IndexedSession.objects.get(pk=infos[0].id))


def test_list_user_sessions_is_honest_about_signed_cookies(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    with pytest.raises(NotImplementedError, match="cannot be listed"):
        list_user_sessions(make_user("alice"))


def test_the_middleware_called_directly(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    alice = make_user("alice")
    key = session_key(signed_in(alice))

    def request_with_session() -> HttpRequest:
        request = RequestFactory().get("/")
        request.COOKIES["sessionid"] = key
        SessionMiddleware(lambda r: HttpResponse()).process_request(request)
        request.user = alice
        return request

    middleware = SessionIndexMiddleware(lambda r: HttpResponse("ok"))
    request = request_with_session()
    assert middleware(request).content == b"ok"
    assert request.user == alice

    IndexedSession.objects.all().delete()
    request = request_with_session()
    middleware(request)
    assert isinstance(request.user, AnonymousUser)
    assert SESSION_KEY not in request.session
    assert not store().exists(key)


def test_the_middleware_works_for_async_views(session_settings: Any) -> None:
    from asgiref.sync import async_to_sync

    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    alice = make_user("alice")
    client = AsyncClient()
    client.cookies = signed_in(alice).cookies

    def whoami() -> Any:
        return json.loads(async_to_sync(client.get)("/async/whoami/").content)

    assert whoami() == {"authenticated": True}
    purge_user_sessions(alice)
    assert whoami() == {"authenticated": False}


@pytest.mark.django_db(transaction=True)
def test_an_unknown_engine_is_refused_not_pretended(
    session_settings: Any, audit_records: list[dict[str, Any]]
) -> None:
    session_settings.SESSION_ENGINE = "tests.sessions_unknown_engine"
    session_settings.MIDDLEWARE = MIDDLEWARE_WITHOUT_INDEX
    alice = make_user("alice")
    browser = signed_in(alice)  # logins keep working (check E101 reports the engine)
    assert is_signed_in(browser)
    with pytest.raises(NotImplementedError, match="does not know how"):
        purge_user_sessions(alice)

    alice_pk = alice.pk
    alice.delete()  # so does deleting a user, and the audit trail says what was not done
    failed = [r for r in audit_records if r["event"] == "session.purge_failed"]
    assert [(r["user"], r["reason"]) for r in failed] == [(str(alice_pk), "user_deleted")]
