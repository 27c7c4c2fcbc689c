"""Session lifecycle against real PostgreSQL and Redis: several processes, racing threads.

Not collected by the main run (its settings use SQLite in memory): tests/test_sessions_services.py
runs this file in its own pytest process with ``--ds=tests.sessions_pg_settings``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client

from authzguard.models import IndexedSession
from authzguard.sessions import purge_user_sessions
from tests import soak
from tests.sessions_support import (
    ENGINES,
    MIDDLEWARE,
    MIDDLEWARE_WITHOUT_INDEX,
    PASSWORD,
    is_signed_in,
    make_user,
    session_settings,
    signed_in,
    store,
)

__all__ = ["session_settings"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


def purge_in_another_process(user_pk: Any, engine: str, cache_alias: str = "default") -> int:
    env = {
        **os.environ,
        "AUTHZGUARD_SESSIONS_PG_NAME": connection.settings_dict["NAME"],
        "AUTHZGUARD_SESSIONS_ENGINE": ENGINES[engine],
        "AUTHZGUARD_SESSIONS_CACHE_ALIAS": cache_alias,
        "DJANGO_SETTINGS_MODULE": "tests.sessions_pg_settings",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.sessions_worker", str(user_pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout.strip().splitlines()[-1])["ended"])


def test_the_database_is_postgresql() -> None:
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize(
    ("engine", "alias"), [("db", "default"), ("cache", "redis"), ("cached_db", "redis")]
)
def test_a_purge_in_another_process_ends_the_sessions_here(
    session_settings: Any, engine: str, alias: str
) -> None:
    session_settings.SESSION_ENGINE = ENGINES[engine]
    session_settings.SESSION_CACHE_ALIAS = alias
    alice, bob = make_user("alice"), make_user("bob")
    alice_browser, alice_phone, bob_browser = signed_in(alice), signed_in(alice), signed_in(bob)
    assert is_signed_in(alice_browser)

    assert purge_in_another_process(alice.pk, engine, alias) == 2

    assert not is_signed_in(alice_browser)
    assert not is_signed_in(alice_phone)
    assert is_signed_in(bob_browser)


def test_a_per_process_cache_keeps_a_stale_copy_which_the_middleware_refuses(
    session_settings: Any,
) -> None:
    # cached_db with LocMemCache: the other process cannot reach this process's cache.
    session_settings.SESSION_ENGINE = ENGINES["cached_db"]
    session_settings.SESSION_CACHE_ALIAS = "default"
    alice = make_user("alice")
    browser = signed_in(alice)
    assert is_signed_in(browser)  # now cached in this process
    assert purge_in_another_process(alice.pk, "cached_db") == 1

    # A client loads the middleware once: a fresh one per configuration, same cookie.
    session_settings.MIDDLEWARE = MIDDLEWARE_WITHOUT_INDEX
    without_index = Client()
    without_index.cookies = browser.cookies
    assert is_signed_in(without_index), "the stale per-process copy W103 warns about"
    session_settings.MIDDLEWARE = MIDDLEWARE
    with_index = Client()
    with_index.cookies = browser.cookies
    assert not is_signed_in(with_index)


@pytest.mark.parametrize("engine", ["db", "cache"])
def test_a_login_racing_the_deletion_of_its_user_never_leaves_a_live_session(
    session_settings: Any, engine: str
) -> None:
    session_settings.SESSION_ENGINE = ENGINES[engine]
    session_settings.SESSION_CACHE_ALIAS = "redis"
    outcomes: Counter[str] = Counter()
    rounds = soak.rounds(24)
    for round_number in range(rounds):
        user = make_user(f"racer{round_number}")
        user_pk = user.pk
        barrier = threading.Barrier(2)
        browser = Client()
        results: dict[str, Any] = {}

        def delete() -> None:
            try:
                barrier.wait()
                time.sleep(random.uniform(0, 0.01))
                with transaction.atomic():
                    get_user_model()._default_manager.filter(pk=user_pk).delete()
                    # Hold the transaction open so the login lands inside it some of the time.
                    time.sleep(random.uniform(0, 0.01))
                results["deleted"] = True
            except IntegrityError:
                # The login's index row committed after our cascade read it: PostgreSQL's
                # deferred foreign key refuses the delete; the user and session survive.
                results["deleted"] = False
            finally:
                connections.close_all()

        def log_in() -> None:
            try:
                barrier.wait()
                time.sleep(random.uniform(0, 0.01))
                response = browser.post(
                    "/accounts/login/", {"username": user.username, "password": PASSWORD}
                )
                results["login"] = response.status_code
            except Exception as exc:  # recorded, then failed on below: never a server error
                results["login"] = type(exc).__name__
            finally:
                connections.close_all()

        threads = [threading.Thread(target=delete), threading.Thread(target=log_in)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        deleted = not get_user_model()._default_manager.filter(pk=user_pk).exists()
        assert deleted == results["deleted"]
        outcomes[f"deleted={deleted} login={results['login']}"] += 1
        # authzguard's LoginView: signed in (302), or the form again (200) for a deleted user.
        assert results["login"] in ({200, 302} if deleted else {302}), dict(outcomes)
        if deleted:
            assert not is_signed_in(browser)
            assert not IndexedSession.objects.filter(user_id=user_pk).exists()
            key = browser.cookies.get("sessionid")
            if key is not None and key.value:
                # Whatever the store kept, it does not sign anyone in (checked above) and
                # holds no trace of the user once the middleware has seen it.
                assert "_auth_user_id" not in store(key.value).load()
        else:
            assert IndexedSession.objects.filter(user_id=user_pk).exists() == is_signed_in(browser)
    print(f"\n{engine} race outcomes over {rounds} rounds: {dict(outcomes)}")
    # Each round's login was checked above; the race must also have deleted users.
    assert any(outcome.startswith("deleted=True") for outcome in outcomes), outcomes


@pytest.mark.parametrize("engine", ["db", "cache"])
def test_a_nul_in_client_info_is_no_error_at_login_nor_at_the_later_touch(
    session_settings: Any, engine: str
) -> None:
    """PostgreSQL refuses NUL in text; the user agent and address are cleaned first."""
    session_settings.SESSION_ENGINE = ENGINES[engine]
    session_settings.SESSION_CACHE_ALIAS = "redis"
    session_settings.AUTHZGUARD_SESSION_INDEX_CLIENT_INFO = True
    session_settings.AUTHZGUARD_SESSION_TOUCH_INTERVAL = 0
    make_user("alice")
    browser = Client(HTTP_USER_AGENT="Evil\x00Agent\x1b\r\n" + "y" * 400)
    response = browser.post(
        "/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="fe80::1%\x00",
    )
    assert response.status_code == 200
    row = IndexedSession.objects.get()
    assert (row.ip, row.user_agent) == ("fe80::1", "EvilAgent" + "y" * 247)

    IndexedSession.objects.update(last_seen=row.last_seen - timedelta(minutes=5))
    response = browser.get("/whoami/", HTTP_USER_AGENT="\x00Later\x00", REMOTE_ADDR="\x00")
    assert response.status_code == 200
    assert json.loads(response.content)["authenticated"] is True
    row = IndexedSession.objects.get()
    assert (row.ip, row.user_agent) == (None, "Later")


@pytest.mark.parametrize("engine", ["db", "cache"])
def test_a_user_deleted_before_login_gets_the_form_back_not_a_500(
    session_settings: Any, engine: str
) -> None:
    """authzguard's LoginView: the deletion lands between the password check and login()."""
    session_settings.SESSION_ENGINE = ENGINES[engine]
    session_settings.SESSION_CACHE_ALIAS = "redis"
    session_settings.AUTHENTICATION_BACKENDS = ["tests.sessions_support.VanishingUserBackend"]
    user = make_user("vanishing-carol")
    browser = Client(raise_request_exception=False)

    response = browser.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()["__all__"]
    assert [error.code for error in errors] == ["invalid_login"]
    assert not get_user_model()._default_manager.filter(pk=user.pk).exists()
    assert not IndexedSession.objects.filter(user_id=user.pk).exists()
    assert not is_signed_in(browser)


# --- a key rotation racing a purge (forced interleaving) ----------------------------------

WAIT = 30.0  # seconds: generous bounds on events that happen at once unless a bug hangs


def _wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _a_backend_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        (waiting,) = cursor.fetchone()
    return bool(waiting)


@pytest.mark.parametrize(("engine", "alias"), [("db", "default"), ("cache", "redis")])
def test_a_key_rotation_racing_a_purge_never_survives_it(
    session_settings: Any, engine: str, alias: str
) -> None:
    """The purge reads the user's rows, a request rotates its key, then the purge deletes.

    The rotation runs on its own connection while the purge is paused right after its
    read. Either it completes before the purge goes on (it took no lock: the bug) or it
    waits on the purge's row lock; the purge is released once one of the two is seen.
    """
    session_settings.SESSION_ENGINE = ENGINES[engine]
    session_settings.SESSION_CACHE_ALIAS = alias
    alice, bob = make_user("alice"), make_user("bob")
    browser, bob_browser = signed_in(alice), signed_in(bob)
    old_key = browser.cookies["sessionid"].value
    purge_read, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}
    index_table = IndexedSession._meta.db_table

    def pause_after_the_purges_read(
        execute: Any, sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql, params, many, context)
        if sql.lstrip().startswith("SELECT") and f'"{index_table}"."user_id" =' in sql:
            purge_read.set()
            assert release.wait(WAIT), "never released"
        return result

    def purge() -> None:
        try:
            with connection.execute_wrapper(pause_after_the_purges_read):
                results["ended"] = purge_user_sessions(alice)
        finally:
            purge_read.set()
            connections.close_all()

    def rotate() -> None:
        try:
            results["rotation"] = browser.get("/cycle/").status_code
        finally:
            connections.close_all()

    purger = threading.Thread(target=purge)
    rotator = threading.Thread(target=rotate)
    purger.start()
    try:
        assert purge_read.wait(WAIT)
        rotator.start()
        _wait_until(
            lambda: not rotator.is_alive() or _a_backend_waits_on_a_lock(),
            "the rotation to finish or to wait for the purge's lock",
        )
        print(f"\n{engine}: the rotation {'waited' if rotator.is_alive() else 'did not wait'}")
    finally:
        release.set()
        purger.join(WAIT)
        rotator.join(WAIT)
    assert not purger.is_alive() and not rotator.is_alive()

    assert results == {"ended": 1, "rotation": 200}
    assert browser.cookies["sessionid"].value != old_key, "the rotation changed no cookie"
    assert not is_signed_in(browser)
    old_browser = Client()
    old_browser.cookies["sessionid"] = old_key
    assert not is_signed_in(old_browser)
    assert not IndexedSession.objects.filter(user_id=alice.pk).exists()
    assert is_signed_in(bob_browser)
