"""The management commands and the system checks of the session lifecycle."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import Client

from authzguard.sessions.checks import MESSAGES, check_session_lifecycle
from tests.sessions_support import (
    ENGINES,
    MIDDLEWARE_WITHOUT_INDEX,
    indexed_keys,
    is_signed_in,
    make_user,
    session_settings,
    signed_in,
    store,
)

__all__ = ["session_settings"]  # fixtures, used by name

pytestmark = pytest.mark.django_db


def run(*args: Any) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def legacy_session(user: Any) -> Client:
    """A signed-in session created before authzguard was installed: in the store, unindexed."""
    session = store()
    session[SESSION_KEY] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    session.save()
    client = Client()
    client.cookies["sessionid"] = session.session_key
    return client


# --- authzguard_purge_sessions -------------------------------------------------------------


@pytest.mark.parametrize("how", ["user", "email"])
def test_purge_command_by_id_or_email(session_settings: Any, how: str) -> None:
    session_settings.SESSION_ENGINE = ENGINES["db"]
    alice, bob = make_user("alice"), make_user("bob")
    browser, bob_browser = signed_in(alice), signed_in(bob)
    value = str(alice.pk) if how == "user" else "alice@example.com"
    assert run("authzguard_purge_sessions", f"--{how}", value) == (
        f"Ended 1 session(s) of user {alice.pk}.\n"
    )
    assert not is_signed_in(browser)
    assert is_signed_in(bob_browser)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "424242"], "No such user"),
        (["--user", "not-a-number"], "Not a valid user id"),
        (["--email", "nobody@example.com"], "No such user"),
        (["--email", "shared@example.com"], "more than one user"),
    ],
)
def test_purge_command_refuses_unclear_targets(
    session_settings: Any, args: list[str], message: str
) -> None:
    for name in ("x", "y"):
        get_user_model()._default_manager.create_user(username=name, email="shared@example.com")
    with pytest.raises(CommandError, match=message):
        run("authzguard_purge_sessions", *args)


def test_purge_command_needs_exactly_one_target(session_settings: Any) -> None:
    with pytest.raises(CommandError):
        run("authzguard_purge_sessions")
    with pytest.raises(CommandError):
        run("authzguard_purge_sessions", "--user", "1", "--email", "a@example.com")


def test_commands_turn_an_unknown_engine_into_a_command_error(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "tests.sessions_unknown_engine"
    make_user("alice")
    with pytest.raises(CommandError, match="does not know how"):
        run("authzguard_purge_sessions", "--email", "alice@example.com")
    with pytest.raises(CommandError, match="does not know how"):
        run("authzguard_index_sessions")


# --- authzguard_index_sessions -------------------------------------------------------------


@pytest.mark.parametrize("name", ["db", "cached_db", "file"])
def test_index_command_adopts_sessions_that_predate_the_index(
    session_settings: Any, name: str
) -> None:
    session_settings.SESSION_ENGINE = ENGINES[name]
    alice, bob = make_user("alice"), make_user("bob")
    old_alice, old_bob = legacy_session(alice), legacy_session(bob)
    current = signed_in(alice)
    anonymous = store()
    anonymous["cart"] = [1, 2]
    anonymous.create()
    anonymous.save()
    ghost = make_user("ghost")
    legacy_session(ghost)
    ghost_pk = ghost.pk
    # A user deleted behind authzguard's back (raw SQL), leaving a store entry.
    get_user_model()._default_manager.filter(pk=ghost_pk)._raw_delete("default")
    _corrupt_one_session(name)

    output = run("authzguard_index_sessions")

    assert "indexed: 2" in output
    assert "already indexed: 1" in output
    assert "anonymous: 1" in output
    assert "undecodable: 1" in output
    assert "of an unknown user: 1" in output
    # Once indexed, they are found and ended like any other session.
    assert is_signed_in(old_alice)
    assert purge_count(alice) == 2
    assert not is_signed_in(old_alice)
    assert not is_signed_in(current)
    assert is_signed_in(old_bob)
    # Running it again indexes nothing new.
    again = run("authzguard_index_sessions")
    assert again.startswith("Sessions indexed: 0, already indexed: ")
    assert ": 0" not in again.removeprefix("Sessions indexed: 0")


def purge_count(user: Any) -> int:
    from authzguard.sessions import purge_user_sessions

    return purge_user_sessions(user)


def _corrupt_one_session(name: str) -> None:
    session = store()
    session["x"] = 1
    session.create()
    session.save()
    if name == "file":
        path = session._key_to_file()  # type: ignore[attr-defined]
        with open(path, "w", encoding="ascii") as handle:
            handle.write("not-a-signed-value")
    else:
        Session.objects.filter(session_key=session.session_key).update(session_data="garbage:x")


def test_legacy_sessions_are_refused_until_indexed(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = ENGINES["db"]
    alice = make_user("alice")
    old = legacy_session(alice)
    session_settings.MIDDLEWARE = MIDDLEWARE_WITHOUT_INDEX
    assert is_signed_in(old)
    run("authzguard_index_sessions")
    from tests.sessions_support import MIDDLEWARE

    session_settings.MIDDLEWARE = MIDDLEWARE
    assert is_signed_in(Client(HTTP_COOKIE=f"sessionid={old.cookies['sessionid'].value}"))
    fresh = legacy_session(alice)
    assert not is_signed_in(fresh)


@pytest.mark.parametrize("name", ["cache", "signed_cookies"])
def test_index_command_is_honest_about_engines_it_cannot_list(
    session_settings: Any, name: str
) -> None:
    session_settings.SESSION_ENGINE = ENGINES[name]
    with pytest.raises(CommandError, match="cannot list its sessions"):
        run("authzguard_index_sessions")


def test_index_command_prune_drops_rows_of_vanished_sessions(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = ENGINES["db"]
    alice = make_user("alice")
    gone, kept = signed_in(alice), signed_in(alice)
    Session.objects.filter(session_key=gone.cookies["sessionid"].value).delete()
    assert "pruned: 1" in run("authzguard_index_sessions", "--prune")
    assert indexed_keys(alice) == {kept.cookies["sessionid"].value}


# --- system checks ---------------------------------------------------------------------


def test_check_ids_are_unique_in_the_100_range_and_each_has_a_hint() -> None:
    ids = [check_id for check_id, _, _, _ in MESSAGES]
    assert len(ids) == len(set(ids))
    for check_id, level, message, hint in MESSAGES:
        assert check_id[:12] in {"authzguard.E", "authzguard.W"}
        assert 100 <= int(check_id[12:]) < 200
        assert level.__name__[0] == check_id[11]
        assert message
        assert hint


INSTALLED = [*MIDDLEWARE_WITHOUT_INDEX, "authzguard.sessions.middleware.SessionIndexMiddleware"]


@pytest.mark.parametrize(
    ("engine", "middleware", "expected"),
    [
        ("db", INSTALLED, []),
        ("db", MIDDLEWARE_WITHOUT_INDEX, ["authzguard.W102"]),
        ("db", [INSTALLED[0], INSTALLED[3], INSTALLED[1], INSTALLED[2]], ["authzguard.E102"]),
        ("cache", INSTALLED, ["authzguard.W103"]),
        ("cached_db", INSTALLED, ["authzguard.W103"]),
        ("file", INSTALLED, []),
        ("signed_cookies", INSTALLED, ["authzguard.W101"]),
        ("signed_cookies", MIDDLEWARE_WITHOUT_INDEX, ["authzguard.W101", "authzguard.E103"]),
        ("unknown", INSTALLED, ["authzguard.E101"]),
    ],
)
def test_checks(settings: Any, engine: str, middleware: list[str], expected: list[str]) -> None:
    settings.SESSION_ENGINE = ENGINES.get(engine, "tests.sessions_unknown_engine")
    settings.MIDDLEWARE = middleware
    messages = check_session_lifecycle()
    assert [m.id for m in messages] == expected
    assert all(m.hint for m in messages)


def test_a_shared_cache_does_not_warn(settings: Any, redis_url: str) -> None:
    settings.SESSION_ENGINE = ENGINES["cache"]
    settings.MIDDLEWARE = INSTALLED
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    assert check_session_lifecycle() == []
