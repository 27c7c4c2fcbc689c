"""Progress of the long session commands: a bar on a terminal (tqdm), plain lines otherwise."""

from __future__ import annotations

import io
import os
import pty
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from authzguard.models import IndexedSession
from authzguard.progress import progress

pytestmark = pytest.mark.django_db

MANY = 2_500  # more than one chunk (1000) of every loop


def stored_sessions(user: Any, count: int, *, indexed: bool) -> None:
    data = SessionStore().encode({SESSION_KEY: str(user.pk)})
    expires = timezone.now() + timedelta(days=1)
    keys = [f"progress{i:024d}" for i in range(count)]
    Session.objects.bulk_create(
        Session(session_key=key, session_data=data, expire_date=expires) for key in keys
    )
    if indexed:
        now = timezone.now()
        IndexedSession.objects.bulk_create(
            IndexedSession(session_key=key, user_id=user.pk, created=now, last_seen=now)
            for key in keys
        )


@pytest.fixture
def db_sessions(settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"


def test_index_sessions_writes_plain_lines_when_not_on_a_terminal(
    db_sessions: None, alice: Any
) -> None:
    stored_sessions(alice, MANY, indexed=False)
    out, err = io.StringIO(), io.StringIO()
    call_command("authzguard_index_sessions", stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0] == "reading sessions: started"
    assert lines[1].startswith(f"reading sessions: done, {MANY} sessions in ")
    assert lines[2] == f"indexing: started, {MANY} sessions"
    assert lines[3].startswith(f"indexing: done, {MANY}/{MANY} sessions (100%) in ")
    assert "\r" not in err.getvalue()
    assert out.getvalue() == f"Sessions indexed: {MANY}.\n"
    assert IndexedSession.objects.count() == MANY


def test_purge_sessions_writes_plain_lines_when_not_on_a_terminal(
    db_sessions: None, alice: Any
) -> None:
    stored_sessions(alice, MANY, indexed=True)
    out, err = io.StringIO(), io.StringIO()
    call_command("authzguard_purge_sessions", "--user", str(alice.pk), stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0] == f"ending sessions: started, {MANY} sessions"
    assert lines[-1].startswith(f"ending sessions: done, {MANY}/{MANY} sessions (100%) in ")
    assert out.getvalue() == f"Ended {MANY} session(s) of user {alice.pk}.\n"
    assert not Session.objects.exists()


def run_on_a_terminal(command: str, *args: str) -> tuple[str, str]:
    """Run a command with its stderr on a pseudo-terminal; what the terminal showed."""
    controller, terminal = pty.openpty()
    shown = b""
    with os.fdopen(terminal, "w", encoding="utf-8", closefd=True) as stderr:
        out = io.StringIO()
        call_command(command, *args, stdout=out, stderr=stderr)
        stderr.flush()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal side is closed and everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return out.getvalue(), shown.decode("utf-8", errors="replace")


def test_purge_sessions_draws_a_bar_on_a_terminal(db_sessions: None, alice: Any) -> None:
    pytest.importorskip("tqdm")
    stored_sessions(alice, MANY, indexed=True)
    out, shown = run_on_a_terminal("authzguard_purge_sessions", "--user", str(alice.pk))
    assert out == f"Ended {MANY} session(s) of user {alice.pk}.\n"
    assert "ending sessions: 100%" in shown
    assert f"{MANY}/{MANY}" in shown
    assert "\r" in shown  # the bar redraws its line
    assert "started" not in shown  # no plain lines on a terminal


def test_index_sessions_draws_a_bar_on_a_terminal(db_sessions: None, alice: Any) -> None:
    pytest.importorskip("tqdm")
    stored_sessions(alice, MANY, indexed=False)
    out, shown = run_on_a_terminal("authzguard_index_sessions")
    assert out == f"Sessions indexed: {MANY}.\n"
    assert "indexing: 100%" in shown and f"{MANY}/{MANY}" in shown
    assert "\x1b[31" not in shown  # stderr's error colour is not applied to the bar


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if the extra were not installed
    shown = io.StringIO()
    shown.isatty = lambda: True  # type: ignore[method-assign]
    with progress("job", total=3, unit="items", stream=shown, every=0) as advance:
        for _ in range(3):
            advance(1)
    assert shown.getvalue().splitlines()[:4] == [
        "job: started, 3 items",
        "job: 1/3 items (33%)",
        "job: 2/3 items (66%)",
        "job: 3/3 items (100%)",
    ]
    assert shown.getvalue().splitlines()[4].startswith("job: done, 3/3 items (100%) in ")


def test_lines_are_rate_limited() -> None:
    shown = io.StringIO()
    with progress("job", stream=shown, every=3600) as advance:
        for _ in range(10_000):
            advance(1)
    lines = shown.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("job: done, 10000 in ")
