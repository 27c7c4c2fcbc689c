"""Purges triggered by user deletion, deactivation and password changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from authzguard.models import SessionGeneration
from tests.sessions_support import (
    PASSWORD,
    engine,
    indexed_keys,
    is_signed_in,
    make_user,
    session_key,
    session_settings,
    signed_in,
    store,
)

__all__ = ["engine", "session_settings"]  # fixtures, used by name

User = get_user_model()


# Purges run on commit: these tests need real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def test_deleting_a_user_purges_their_sessions_on_commit(engine: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    alice_browser, bob_browser = signed_in(alice), signed_in(bob)
    alice_key, alice_pk = session_key(alice_browser), alice.pk

    response = bob_browser.post("/delete-user/", {"id": alice_pk})

    assert response.json() == {"deleted": str(alice_pk)}
    assert not is_signed_in(alice_browser)
    assert is_signed_in(bob_browser)
    if engine == "signed_cookies":
        # The counter outlives the user: a re-used primary key cannot revive the cookie.
        assert SessionGeneration.objects.get(user_pk=str(alice_pk)).generation == 1
    else:
        assert not store().exists(alice_key)


def test_a_queryset_delete_purges_every_deleted_user(engine: str) -> None:
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    browsers = {user.get_username(): signed_in(user) for user in (alice, bob, carol)}
    User._default_manager.filter(username__in=["alice", "bob"]).delete()
    assert not is_signed_in(browsers["alice"])
    assert not is_signed_in(browsers["bob"])
    assert is_signed_in(browsers["carol"])


def test_a_rolled_back_delete_keeps_the_sessions(engine: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    alice_browser, bob_browser = signed_in(alice), signed_in(bob)
    with pytest.raises(RuntimeError, match="on purpose"):
        bob_browser.post("/delete-user/", {"id": alice.pk, "fail": "1"})
    assert User._default_manager.filter(pk=alice.pk).exists()
    assert is_signed_in(alice_browser)
    if engine != "signed_cookies":
        assert indexed_keys(alice) == {session_key(alice_browser)}


def test_deactivation_purges_and_a_rolled_back_one_does_not(engine: str) -> None:
    alice = make_user("alice")
    browser = signed_in(alice)
    alice.is_active = False
    try:
        with transaction.atomic():
            alice.save()
            raise Rollback
    except Rollback:
        pass
    alice.refresh_from_db()
    assert is_signed_in(browser)

    with transaction.atomic():
        alice.is_active = False
        alice.save(update_fields=["is_active"])
        # Nothing happens before the commit.
        if engine != "signed_cookies":
            assert store().exists(session_key(browser))
    if engine != "signed_cookies":
        assert not store().exists(session_key(browser))
    # ModelBackend refuses inactive users anyway; reactivating shows the purge was real.
    alice.is_active = True
    alice.save()
    assert not is_signed_in(browser)


def test_deactivation_purge_can_be_turned_off(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    session_settings.AUTHZGUARD_SESSION_PURGE_ON_DEACTIVATE = False
    alice = make_user("alice")
    browser = signed_in(alice)
    alice.is_active = False
    alice.save()
    assert indexed_keys(alice) == {session_key(browser)}


def test_other_saves_of_an_inactive_user_do_not_purge(session_settings: Any) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    session_settings.AUTHZGUARD_SESSION_PURGE_ON_DEACTIVATE = True
    alice = make_user("alice")
    browser = signed_in(alice)
    alice.first_name = "Alice"
    alice.save()
    assert indexed_keys(alice) == {session_key(browser)}


def test_password_change_purge_is_off_by_default(engine: str) -> None:
    alice = make_user("alice")
    browser, other = signed_in(alice), signed_in(alice)
    browser.post("/password/", {"password": "a new password"})
    if engine != "signed_cookies":
        assert len(indexed_keys(alice)) == 2
        assert store().exists(session_key(other))


def test_password_change_ends_the_other_sessions_and_keeps_your_own(
    engine: str, session_settings: Any
) -> None:
    session_settings.AUTHZGUARD_SESSION_PURGE_ON_PASSWORD_CHANGE = True
    alice, bob = make_user("alice"), make_user("bob")
    browser, other, bob_browser = signed_in(alice), signed_in(alice), signed_in(bob)
    other_key = session_key(other)

    assert browser.post("/password/", {"password": "a new password"}).status_code == 200

    # Checked before `other` makes a request (Django's own hash check would end it then).
    if engine != "signed_cookies":
        assert indexed_keys(alice) == {session_key(browser)}
        assert not store().exists(other_key)
    assert is_signed_in(browser)
    assert not is_signed_in(other)
    assert is_signed_in(bob_browser)


def test_an_admin_setting_a_password_ends_every_session_of_that_user(
    session_settings: Any,
) -> None:
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    session_settings.AUTHZGUARD_SESSION_PURGE_ON_PASSWORD_CHANGE = True
    alice = make_user("alice")
    browser = signed_in(alice)
    alice.set_password(PASSWORD + "!")
    alice.save()
    assert indexed_keys(alice) == set()
    assert not store().exists(session_key(browser))
