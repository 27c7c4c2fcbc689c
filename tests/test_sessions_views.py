"""Ending sessions as a feature: the "my sessions" view helper and the close-session flow."""

from __future__ import annotations

from typing import Any

import pytest

from authzguard.models import IndexedSession
from tests.sessions_support import (
    indexed_engine,
    indexed_keys,
    is_signed_in,
    make_user,
    session_key,
    session_settings,
    signed_in,
)

__all__ = ["indexed_engine", "session_settings"]  # fixtures, used by name

pytestmark = pytest.mark.django_db

END = "/sessions/end/"


def _row_id(client: Any) -> int:
    return IndexedSession.objects.get(session_key=session_key(client)).pk


def test_end_one_of_my_sessions(indexed_engine: str) -> None:
    alice = make_user("alice")
    browser, phone = signed_in(alice), signed_in(alice)
    assert browser.post(END, {"session": _row_id(phone)}).json() == {"ended": 1}
    assert is_signed_in(browser)
    assert not is_signed_in(phone)


def test_ending_the_current_session_signs_out_at_once(indexed_engine: str) -> None:
    alice = make_user("alice")
    browser = signed_in(alice)
    assert browser.post(END, {"session": _row_id(browser)}).json() == {"ended": 1}
    assert not is_signed_in(browser)
    assert indexed_keys(alice) == set()


def test_another_users_session_id_is_like_an_unknown_one(indexed_engine: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    browser, bob_browser = signed_in(alice), signed_in(bob)
    assert browser.post(END, {"session": _row_id(bob_browser)}).json() == {"ended": 0}
    assert browser.post(END, {"session": "999999"}).json() == {"ended": 0}
    assert is_signed_in(bob_browser)


def test_end_all_others_and_all(indexed_engine: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    browser, phone, tablet, bob_browser = (signed_in(u) for u in (alice, alice, alice, bob))
    assert browser.post(END, {"session": "others"}).json() == {"ended": 2}
    assert is_signed_in(browser)
    assert not is_signed_in(phone)
    assert not is_signed_in(tablet)
    assert browser.post(END, {"session": "all"}).json() == {"ended": 1}
    assert not is_signed_in(browser)
    assert is_signed_in(bob_browser)


@pytest.mark.parametrize(
    "data",
    [{}, {"session": ["1", "2"]}, {"session": "-1"}, {"session": "\uff11"}, {"session": "1" * 20}],
)
def test_malformed_requests_are_400_and_end_nothing(session_settings: Any, data: Any) -> None:
    alice = make_user("alice")
    browser = signed_in(alice)
    assert browser.post(END, data).status_code == 400
    assert indexed_keys(alice) == {session_key(browser)}


def test_get_is_405_and_anonymous_goes_to_login(session_settings: Any) -> None:
    from django.test import Client

    browser = signed_in(make_user("alice"))
    assert browser.get(END).status_code == 405
    response = Client().post(END, {"session": "all"})
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_same_site_next_redirects_and_another_site_does_not(session_settings: Any) -> None:
    alice = make_user("alice")
    browser, phone = signed_in(alice), signed_in(alice)
    response = browser.post(END, {"session": "others", "next": "/sessions/"})
    assert (response.status_code, response["Location"]) == (303, "/sessions/")
    response = browser.post(END, {"session": "others", "next": "https://evil.example/"})
    assert response.json() == {"ended": 0}
    assert not is_signed_in(phone)


def test_close_user_session_flow_keeps_or_ends_the_current_session(indexed_engine: str) -> None:
    alice = make_user("alice")
    browser, phone = signed_in(alice), signed_in(alice)
    ended = browser.post("/end-user/", {"email": "alice@example.com", "keep_current": "1"})
    assert ended.json() == {"ended": 1}
    assert is_signed_in(browser)
    assert not is_signed_in(phone)
    assert browser.post("/end-user/", {"email": "alice@example.com"}).json() == {"ended": 1}
    assert not is_signed_in(browser)


def test_close_user_session_on_signed_cookies(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    alice = make_user("alice")
    browser, phone = signed_in(alice), signed_in(alice)
    browser.post("/end-user/", {"email": "alice@example.com", "keep_current": "1"})
    assert is_signed_in(browser)
    assert not is_signed_in(phone)
    # One session cannot be told from another there: said so, nothing ended.
    response = browser.post(END, {"session": "1"})
    assert response.status_code == 501
    assert "cannot end one session" in response.json()["error"]
    assert is_signed_in(browser)
