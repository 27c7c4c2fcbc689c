"""A database or Redis that cannot be reached: 503 with Retry-After, never 500, never an allow.

The database outage comes from Django's own query instrumentation
(``connection.execute_wrapper``) raising what a dropped connection raises; the Redis
outage is a real ``redis-server`` of the test's own, paused with SIGSTOP.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client
from django.urls import path

from tests.conftest import IN_CI
from tests.loadtest.services import MissingTool, RedisServer, find_tool
from tests.sessions_support import (
    MIDDLEWARE,
    is_signed_in,
    make_user,
    session_key,
    session_settings,
    signed_in,
)
from tests.testapp.models import Note, ViewCall

__all__ = ["session_settings"]  # fixture, used by name

pytestmark = pytest.mark.django_db

OUTAGE_FIRST = ["authzguard.outage.ServiceUnavailableMiddleware", *MIDDLEWARE]


@contextmanager
def database_down(table: str = "") -> Iterator[None]:
    """Every query (touching ``table``, when given) fails as a dropped connection does."""

    def fail(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if table in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, *args)

    with connection.execute_wrapper(fail):
        yield


def counts_users(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"users": get_user_model().objects.count()})


async def async_counts_users(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"users": await get_user_model().objects.acount()})


urlpatterns = [path("count/", counts_users), path("async/count/", async_counts_users)]


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"


def assert_cookie_kept(response: Any) -> None:
    from django.conf import settings

    morsel = response.cookies.get(settings.SESSION_COOKIE_NAME)
    assert morsel is None or morsel["max-age"] != 0, "the session cookie was deleted"


# -- SessionIndexMiddleware ---------------------------------------------------------------


def test_an_unreadable_session_index_answers_503_and_keeps_the_session(
    session_settings: Any,
) -> None:
    client = signed_in(make_user("alice"))
    key = session_key(client)
    with database_down("authzguard_indexedsession"):
        response = client.get("/whoami/")
    assert_unavailable(response)
    assert_cookie_kept(response)
    # The outage ends: the same browser is still signed in, with the same session.
    assert is_signed_in(client)
    assert session_key(client) == key


def test_the_503_of_the_index_is_json_for_json_clients(session_settings: Any) -> None:
    client = signed_in(make_user("alice"))
    with database_down("authzguard_indexedsession"):
        response = client.get("/whoami/", headers={"Accept": "application/json"})
    assert_unavailable(response)
    assert response.json() == {"error": "service_unavailable", "detail": "Try again shortly."}


@pytest.mark.parametrize("url", ["/count/", "/async/count/"])
def test_the_outage_middleware_turns_the_500_into_a_503(session_settings: Any, url: str) -> None:
    session_settings.MIDDLEWARE = OUTAGE_FIRST
    session_settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    with database_down("auth_user"):
        assert_unavailable(client.get(url))
    assert client.get(url).status_code == 200


def test_the_outage_middleware_under_asgi(session_settings: Any) -> None:
    session_settings.MIDDLEWARE = OUTAGE_FIRST
    session_settings.ROOT_URLCONF = __name__
    client = AsyncClient(raise_request_exception=False)
    with database_down("auth_user"):
        response = async_to_sync(client.get)("/async/count/")
    assert_unavailable(response)


def test_other_errors_stay_500(session_settings: Any) -> None:
    session_settings.MIDDLEWARE = OUTAGE_FIRST
    session_settings.ROOT_URLCONF = __name__

    def fail(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        raise ValueError("a bug, not an outage")

    client = Client(raise_request_exception=False)
    with connection.execute_wrapper(fail):
        assert client.get("/count/").status_code == 500


# -- the guard: resolve and decide --------------------------------------------------------


def test_a_lookup_that_cannot_reach_the_database_is_a_503_and_the_view_never_runs(
    admin: Any, bob: Any
) -> None:
    client = Client()
    client.force_login(admin)
    with database_down("auth_user"):
        response = client.post("/users/delete/", {"id": str(bob.pk)})
    assert_unavailable(response)
    assert not ViewCall.objects.exists()
    assert get_user_model().objects.filter(pk=bob.pk).exists()


def test_the_drf_permission_answers_503_with_retry_after(alice: Any) -> None:
    note = Note.objects.create(owner=alice, slug="n1", title="mine")
    client = Client()
    client.force_login(alice)
    with database_down("testapp_note"):
        response = client.get(f"/api/notes/{note.pk}/")
    assert_unavailable(response)
    assert response.json() == {"detail": "Service temporarily unavailable. Try again shortly."}
    assert client.get(f"/api/notes/{note.pk}/").status_code == 200


# -- Redis sessions, with Redis paused ----------------------------------------------------


@pytest.fixture
def paused_redis(tmp_path: Path) -> Iterator[RedisServer]:
    try:
        find_tool("redis-server")
    except MissingTool as exc:
        if IN_CI:
            pytest.fail(f"{exc} (CI=true: redis-server is required)")
        pytest.skip(str(exc))
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def test_a_paused_redis_answers_503_and_loses_no_session(
    paused_redis: RedisServer, session_settings: Any
) -> None:
    session_settings.MIDDLEWARE = OUTAGE_FIRST
    session_settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": paused_redis.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    session_settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    client = signed_in(make_user("alice"))
    client.raise_request_exception = False
    key = session_key(client)
    paused_redis.pause()
    try:
        response = client.get("/whoami/")
        login = client.post("/login/", {"username": "alice", "password": "x"})
    finally:
        paused_redis.resume()
    assert_unavailable(response)
    # Django's cache engine reads an unreachable store as "no session": without the
    # probe, this response would delete the cookie of a session Redis still holds.
    assert_cookie_kept(response)
    assert login.status_code == 503
    assert session_key(client) == key
    assert is_signed_in(client)


def test_pytest_marks_ci_as_strict() -> None:
    # The Redis fixture above fails rather than skips under CI=true, like the others.
    assert (os.environ.get("CI", "").lower() in {"1", "true", "yes"}) == IN_CI
