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
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client

from authzguard.models import IndexedSession
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
                    "/login/", {"username": user.username, "password": PASSWORD}
                )
                results["login"] = response.status_code
            except Exception as exc:  # the index row's foreign key refused a deleted user
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
    # A login signs in (200), finds its user gone (401), or is refused by the database
    # because its user went while it ran: the index row's foreign key (IntegrityError) or
    # the last_login update that matched no row (DatabaseError; Django 6: its subclass
    # Model.NotUpdated). Any other exception is a bug.
    logins = {outcome.partition(" login=")[2] for outcome in outcomes}
    assert logins <= {"200", "401", "IntegrityError", "DatabaseError", "NotUpdated"}, outcomes
    assert any(outcome.startswith("deleted=True") for outcome in outcomes), outcomes
