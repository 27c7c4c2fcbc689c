"""Session lifecycle races, forced at a chosen query on SQLite (PostgreSQL: sessions_pg_suite).

The interleaving is forced with ``connection.execute_wrapper``: when the purge has read
the user's index rows, the racing request runs before the purge goes on. SQLite lets
one connection write at a time, so the racing request runs on the purge's own
connection (inside its transaction): its writes land between the purge's read and its
delete, which is the interleaving the PostgreSQL suite forces with two connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from authzguard.models import IndexedSession
from authzguard.sessions import purge_user_sessions
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

pytestmark = pytest.mark.django_db(transaction=True)

INDEX_TABLE = IndexedSession._meta.db_table


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
