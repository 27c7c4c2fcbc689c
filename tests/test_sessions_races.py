"""Session lifecycle races, forced at a chosen query on SQLite (PostgreSQL: sessions_pg_suite).

The interleaving is forced with ``connection.execute_wrapper``: when the purge has read
the user's index rows, the racing request runs before the purge goes on. SQLite lets
one connection write at a time, so the racing request runs on the purge's own
connection (inside its transaction): its writes land between the purge's read and its
delete, which is the interleaving the PostgreSQL suite forces with two connections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client

from authzguard.models import IndexedSession
from authzguard.sessions import hooks, purge_user_sessions
from tests.sessions_support import (
    PASSWORD,
    engine,
    indexed_engine,
    indexed_keys,
    is_signed_in,
    make_user,
    session_key,
    session_settings,
    signed_in,
)

__all__ = ["engine", "indexed_engine", "session_settings"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)

INDEX_TABLE = IndexedSession._meta.db_table
LOGIN_UID = "authzguard.sessions.login"  # hooks.connect()'s dispatch_uid for on_login


def reads_index_rows_of_a_user(sql: str) -> bool:
    """The purge's read of the rows it is about to delete (not the middleware's per key)."""
    return sql.lstrip().upper().startswith("SELECT") and f'"{INDEX_TABLE}"."user_id" =' in sql


def run_after_first(matches: Callable[[str], bool], action: Callable[[], None]) -> Any:
    """An execute wrapper that runs ``action`` once, right after the first matching query."""
    done: list[bool] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not done and matches(sql):
            done.append(True)
            action()
        return result

    wrapper.done = done  # type: ignore[attr-defined]
    return wrapper


def test_a_key_rotation_between_the_purges_read_and_delete_does_not_survive(
    indexed_engine: str,
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    browser, bob_browser = signed_in(alice), signed_in(bob)
    old_cookie = Client()
    old_cookie.cookies = browser.cookies.__class__(browser.cookies)
    before = session_key(browser)
    assert session_key(old_cookie) == before
    responses: list[int] = []

    def rotate() -> None:
        responses.append(browser.get("/cycle/").status_code)

    wrapper = run_after_first(reads_index_rows_of_a_user, rotate)
    with connection.execute_wrapper(wrapper):
        ended = purge_user_sessions(alice)

    assert wrapper.done and responses == [200], "the rotation did not run inside the purge"
    assert session_key(browser) != before, "the rotation did not happen"
    assert ended == 1
    assert indexed_keys(alice) == set()
    assert not is_signed_in(browser)
    assert not is_signed_in(old_cookie)
    assert is_signed_in(bob_browser)


# --- a login racing the deletion of its user ----------------------------------------------

VANISHING = ["tests.sessions_support.VanishingUserBackend"]


def sessions_naming(user_pk: Any) -> list[str]:
    """Keys of the database store's sessions that name this user (db engine only)."""
    return [
        session.session_key
        for session in Session.objects.all()
        if session.get_decoded().get(SESSION_KEY) == str(user_pk)
    ]


def assert_an_ordinary_failed_login(response: Any, browser: Client, user_pk: Any) -> None:
    assert response.status_code == 200
    form = response.context["form"]
    assert [error.code for error in form.errors.as_data()["__all__"]] == ["invalid_login"]
    assert not get_user_model()._default_manager.filter(pk=user_pk).exists()
    assert not IndexedSession.objects.filter(user_id=user_pk).exists()
    assert not is_signed_in(browser)


def test_a_user_deleted_before_login_gets_the_form_back_not_a_500(
    engine: str, session_settings: Any
) -> None:
    """Django's update_last_login raises DatabaseError: the login view turns it into a no."""
    session_settings.AUTHENTICATION_BACKENDS = VANISHING
    user = make_user("vanishing-carol")
    browser = Client(raise_request_exception=False)

    response = browser.post(
        "/accounts/login/", {"username": "vanishing-carol", "password": PASSWORD}
    )

    assert_an_ordinary_failed_login(response, browser, user.pk)
    if engine == "db":
        assert sessions_naming(user.pk) == []


@pytest.fixture
def deletion_between_last_login_and_the_index() -> Iterator[None]:
    """Receivers run in connection order: update_last_login, this deletion, the index's."""

    def delete_user(sender: Any, user: Any, **kwargs: Any) -> None:
        get_user_model()._default_manager.filter(pk=user.pk).delete()

    user_logged_in.disconnect(dispatch_uid=LOGIN_UID)
    user_logged_in.connect(delete_user, dispatch_uid="tests.delete-user-on-login")
    user_logged_in.connect(hooks.on_login, dispatch_uid=LOGIN_UID)
    yield
    user_logged_in.disconnect(dispatch_uid="tests.delete-user-on-login")


@pytest.mark.usefixtures("deletion_between_last_login_and_the_index")
@pytest.mark.parametrize("view", ["/accounts/login/", "/accounts/django-login/"])
def test_the_index_tolerates_a_user_deleted_during_login(indexed_engine: str, view: str) -> None:
    """No foreign-key error; the session ends even behind Django's own LoginView."""
    user = make_user("dora")
    browser = Client(raise_request_exception=False)

    response = browser.post(view, {"username": "dora", "password": PASSWORD})

    if view == "/accounts/login/":
        assert_an_ordinary_failed_login(response, browser, user.pk)
    else:
        assert response.status_code == 302  # Django's view redirects whatever happened
        assert not IndexedSession.objects.filter(user_id=user.pk).exists()
        assert not is_signed_in(browser)
    if indexed_engine == "db":
        assert sessions_naming(user.pk) == []
