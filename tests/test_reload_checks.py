"""System checks of the reload settings: authzguard.E040-E047, W040."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from django.test import override_settings

from authzguard.checks import MESSAGES as ENFORCEMENT_MESSAGES
from authzguard.reload_checks import MESSAGES, check_reload
from authzguard.sessions.checks import MESSAGES as SESSION_MESSAGES


def ids(**overrides: object) -> list[str]:
    with override_settings(**overrides):
        return [message.id or "" for message in check_reload()]


def test_ids_are_unique_in_their_range_with_hints() -> None:
    mine = [check_id for check_id, *_ in MESSAGES]
    assert len(mine) == len(set(mine))
    assert all(40 <= int(check_id[-3:]) <= 49 for check_id in mine)
    assert all(hint for *_, hint in MESSAGES)
    others = {check_id for check_id, *_ in (*ENFORCEMENT_MESSAGES, *SESSION_MESSAGES)}
    assert others.isdisjoint(mine)


def test_the_defaults_are_clean() -> None:
    assert ids() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"AUTHZGUARD_RELOAD": "watch"}, ["authzguard.E040"]),
        ({"AUTHZGUARD_RELOAD_INTERVAL": 0}, ["authzguard.E041"]),
        ({"AUTHZGUARD_RELOAD_INTERVAL": "soon"}, ["authzguard.E041"]),
        ({"AUTHZGUARD_RELOAD_NOTIFY": "kafka"}, ["authzguard.E042"]),
        ({"AUTHZGUARD_RELOAD_NOTIFY": "redis"}, ["authzguard.E043"]),
        (
            {"AUTHZGUARD_RELOAD_NOTIFY": "redis", "AUTHZGUARD_REDIS_URL": "localhost:6379"},
            ["authzguard.E043"],
        ),
        ({"AUTHZGUARD_RELOAD_NOTIFY": "postgres"}, ["authzguard.E046"]),  # SQLite here
        ({"AUTHZGUARD_NOTIFY_CHANNEL": "Shop-Prod"}, ["authzguard.E047"]),
        ({"AUTHZGUARD_RELOAD": "poll", "MIDDLEWARE": []}, ["authzguard.W040"]),
    ],
)
def test_each_misconfiguration_is_found(overrides: dict[str, object], expected: list[str]) -> None:
    assert ids(**overrides) == expected


def test_a_good_redis_configuration_is_clean() -> None:
    assert ids(AUTHZGUARD_RELOAD_NOTIFY="redis", AUTHZGUARD_REDIS_URL="redis://h:6379/0") == []


@pytest.fixture
def without(request: pytest.FixtureRequest) -> Iterator[None]:
    """The client package made unimportable (``sys.modules[name] = None``), as if missing."""
    name = request.param
    saved = sys.modules.get(name)
    sys.modules[name] = None  # type: ignore[assignment]
    yield
    if saved is None:
        del sys.modules[name]
    else:
        sys.modules[name] = saved


@pytest.mark.parametrize("without", ["redis"], indirect=True)
def test_missing_redis_package(without: None) -> None:
    assert ids(AUTHZGUARD_RELOAD_NOTIFY="redis", AUTHZGUARD_REDIS_URL="redis://h/0") == [
        "authzguard.E044"
    ]


@pytest.mark.parametrize("without", ["psycopg"], indirect=True)
def test_missing_psycopg_package(without: None) -> None:
    assert ids(AUTHZGUARD_RELOAD_NOTIFY="postgres") == ["authzguard.E045"]


@pytest.mark.parametrize("without", ["redis"], indirect=True)
def test_the_notify_client_is_imported_lazily_with_a_clear_error(without: None) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from authzguard.notify import get_backend

    with (
        override_settings(AUTHZGUARD_RELOAD_NOTIFY="redis", AUTHZGUARD_REDIS_URL="redis://h/0"),
        pytest.raises(ImproperlyConfigured, match=r"authzguard\[redis\]"),
    ):
        get_backend()
