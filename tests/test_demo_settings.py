"""The demo's settings module, read with different environments (no server needed).

The module is executed with ``runpy`` in a clean namespace, the way Django imports it
in the demo process; nothing here touches the library's ``tests/settings.py``.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.browser.server import REPO_ROOT, SCRUBBED

SETTINGS = REPO_ROOT / "demo_site" / "demo_project" / "settings.py"
#: The demo's own environment variables: every one the demo's test servers scrub.
ENVIRONMENT = tuple(name for name in SCRUBBED if name != "DJANGO_SETTINGS_MODULE")


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_SECRET_KEY", "test-secret")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_defaults_are_sqlite_database_sessions_and_debug_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load(monkeypatch)
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["DATABASES"]["default"]["NAME"] == str(REPO_ROOT / "demo_site" / "db.sqlite3")
    assert settings["SESSION_ENGINE"] == "django.contrib.sessions.backends.db"
    assert settings["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert settings["DEBUG"] is False
    assert settings["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]
    assert settings["DEMO_INSECURE"] is False
    assert "insecure:*" not in settings["AUTHZGUARD_ALLOWED_VIEWS"]
    assert settings["AUTHZGUARD_DENY_BY_DEFAULT"] is True
    assert settings["AUTHZGUARD_POLICY_PATHS"] == [REPO_ROOT / "policies" / "demo.yaml"]


def test_postgres_redis_and_cache_sessions_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load(
        monkeypatch,
        DATABASE_URL="postgres://demo:s3cret@db.internal:6543/authz",
        REDIS_URL="redis://127.0.0.1:6379/3",
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS="demo.example, 127.0.0.1 ,",
    )
    database = settings["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("authz", "demo", "s3cret")
    assert (database["HOST"], database["PORT"]) == ("db.internal", 6543)
    assert settings["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
        # An unreachable Redis must answer (a 503) rather than hang a worker.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    # First, so that an outage anywhere below answers 503, not 500.
    assert settings["MIDDLEWARE"][0] == "authzguard.outage.ServiceUnavailableMiddleware"
    assert settings["SESSION_ENGINE"] == "django.contrib.sessions.backends.cache"
    assert settings["DEBUG"] is True
    assert settings["ALLOWED_HOSTS"] == ["demo.example", "127.0.0.1"]


def test_relative_sqlite_url_from_the_readme(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, DATABASE_URL="sqlite:///demo-alt.sqlite3")
    assert settings["DATABASES"]["default"]["NAME"] == "demo-alt.sqlite3"


def test_insecure_mode_exempts_only_the_insecure_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(monkeypatch, DEMO_INSECURE="1")
    assert settings["DEMO_INSECURE"] is True
    assert settings["AUTHZGUARD_ALLOWED_VIEWS"] == ["login", "logout", "insecure:*"]


@pytest.mark.parametrize("name", ["DJANGO_DEBUG", "DEMO_INSECURE"])
def test_a_misspelt_boolean_is_an_error_not_a_guess(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=name):
        load(monkeypatch, **{name: "ture"})


def test_an_unknown_session_engine_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="SESSION_ENGINE"):
        load(monkeypatch, SESSION_ENGINE="django.contrib.sessions.backends.redis")


def test_without_a_secret_key_one_is_generated_once_and_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    read_or_create = load(monkeypatch)["read_or_create_secret_key"]
    path = tmp_path / ".secret_key"
    first = read_or_create(path)
    assert len(first) >= 50
    assert read_or_create(path) == first
    assert path.stat().st_mode & 0o077 == 0, "the key file must be private to its owner"
    path.write_text("")
    with pytest.raises(ImproperlyConfigured, match="empty"):
        read_or_create(path)


def test_policy_reload_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """How docs/operations.md runs the demo under gunicorn with Redis notify on."""
    assert load(monkeypatch)["AUTHZGUARD_RELOAD"] == "off"
    assert load(monkeypatch)["AUTHZGUARD_RELOAD_NOTIFY"] is None
    settings = load(
        monkeypatch,
        DEMO_POLICY_PATH="/srv/policy/demo.yaml",
        AUTHZGUARD_RELOAD="poll",
        AUTHZGUARD_RELOAD_INTERVAL="0.5",
        AUTHZGUARD_RELOAD_NOTIFY="redis",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert settings["AUTHZGUARD_POLICY_PATHS"] == [Path("/srv/policy/demo.yaml")]
    assert settings["AUTHZGUARD_RELOAD"] == "poll"
    assert settings["AUTHZGUARD_RELOAD_INTERVAL"] == 0.5
    assert settings["AUTHZGUARD_RELOAD_NOTIFY"] == "redis"
    assert settings["AUTHZGUARD_REDIS_URL"] == "redis://127.0.0.1:6379/3"
