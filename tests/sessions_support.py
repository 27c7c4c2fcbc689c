"""Helpers for the session-lifecycle tests: a URLconf with small views, settings, fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import (
    authenticate,
    get_user_model,
    login,
    logout,
    update_session_auth_hash,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.views import LoginView as DjangoLoginView
from django.contrib.sessions.backends import file as file_backend
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import caches
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client
from django.urls import path

from authzguard.models import IndexedSession
from authzguard.sessions import end_user_sessions, list_user_sessions
from authzguard.sessions.views import LoginView, end_own_sessions

ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "cache": "django.contrib.sessions.backends.cache",
    "file": "django.contrib.sessions.backends.file",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
}
INDEXED = ["db", "cached_db", "cache", "file"]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "authzguard.sessions.middleware.SessionIndexMiddleware",
]
MIDDLEWARE_WITHOUT_INDEX = MIDDLEWARE[:-1]
PASSWORD = "correct horse battery staple"


# --- views -------------------------------------------------------------------------------


def whoami(request: HttpRequest) -> JsonResponse:
    user = request.user
    return JsonResponse(
        {
            "authenticated": user.is_authenticated,
            "username": user.get_username() if user.is_authenticated else None,
        }
    )


async def async_whoami(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse({"authenticated": user.is_authenticated})


def login_view(request: HttpRequest) -> JsonResponse:
    user = authenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return JsonResponse({"ok": False}, status=401)
    login(request, user)
    return JsonResponse({"ok": True})


def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("bye")


def cycle_view(request: HttpRequest) -> HttpResponse:
    request.session.cycle_key()
    return HttpResponse("cycled")


def password_view(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    user.set_password(request.POST["password"])
    user.save()
    update_session_auth_hash(request, user)
    return HttpResponse("changed")


def my_sessions(request: HttpRequest) -> JsonResponse:
    infos = list_user_sessions(request.user, request=request)  # type: ignore[arg-type]
    return JsonResponse({"sessions": [{"id": i.id, "current": i.current} for i in infos]})


def end_user(request: HttpRequest) -> JsonResponse:
    """The demo's "close user session" flow, minus the policy check (tested elsewhere)."""
    target = get_user_model()._default_manager.get(email=request.POST["email"])
    keep = request.POST.get("keep_current") == "1"
    return JsonResponse({"ended": end_user_sessions(request, target, keep_current=keep)})


def delete_user(request: HttpRequest) -> JsonResponse:
    with transaction.atomic():
        get_user_model()._default_manager.filter(pk=request.POST["id"]).delete()
        if request.POST.get("fail") == "1":
            raise RuntimeError("rolled back on purpose")
    return JsonResponse({"deleted": request.POST["id"]})


urlpatterns = [
    path("whoami/", whoami),
    path("async/whoami/", async_whoami),
    path("login/", login_view),
    path("logout/", logout_view),
    path("cycle/", cycle_view),
    path("password/", password_view),
    path("sessions/", my_sessions),
    path("sessions/end/", end_own_sessions, name="end-own-sessions"),
    path("end-user/", end_user),
    path("delete-user/", delete_user),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/django-login/", DjangoLoginView.as_view()),
]


class VanishingUserBackend(ModelBackend):
    """Authenticates as ModelBackend; a user named ``vanishing-*`` is then deleted at once.

    The deletion lands between the password check and ``login()``, where a concurrent
    deletion of the user would.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> Any:
        user = super().authenticate(request, **credentials)
        if user is not None and user.get_username().startswith("vanishing-"):
            get_user_model()._default_manager.filter(pk=user.pk).delete()
        return user


# --- helpers -----------------------------------------------------------------------------


def make_user(username: str, **extra: Any) -> AbstractBaseUser:
    return get_user_model()._default_manager.create_user(  # type: ignore[attr-defined,no-any-return]
        username=username, email=f"{username}@example.com", password=PASSWORD, **extra
    )


def signed_in(user: AbstractBaseUser) -> Client:
    """A browser signed in through the login view (the full middleware stack runs)."""
    client = Client()
    response = client.post("/login/", {"username": user.get_username(), "password": PASSWORD})
    assert response.status_code == 200, response.content
    return client


def is_signed_in(client: Client) -> bool:
    return bool(json.loads(client.get("/whoami/").content)["authenticated"])


def session_key(client: Client) -> str:
    from django.conf import settings

    return client.cookies[settings.SESSION_COOKIE_NAME].value


def indexed_keys(user: AbstractBaseUser) -> set[str]:
    return set(IndexedSession.objects.filter(user_id=user.pk).values_list("session_key", flat=True))


def store(key: str | None = None) -> SessionBase:
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore(key)  # type: ignore[no-any-return]


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def session_settings(settings: Any, tmp_path: Any) -> Iterator[Any]:
    """Session tests' settings: this URLconf, the index middleware, a clean cache and dir."""
    settings.ROOT_URLCONF = "tests.sessions_support"
    settings.MIDDLEWARE = MIDDLEWARE
    settings.SESSION_FILE_PATH = str(tmp_path)
    _forget_file_storage_path()
    caches["default"].clear()
    yield settings
    _forget_file_storage_path()
    caches["default"].clear()


def _forget_file_storage_path() -> None:
    # The file engine caches SESSION_FILE_PATH on its class at first use.
    if "_storage_path" in vars(file_backend.SessionStore):
        del file_backend.SessionStore._storage_path


@pytest.fixture(params=list(ENGINES))
def engine(request: Any, session_settings: Any) -> str:
    """Every supported engine in turn."""
    session_settings.SESSION_ENGINE = ENGINES[request.param]
    return str(request.param)


@pytest.fixture(params=INDEXED)
def indexed_engine(request: Any, session_settings: Any) -> str:
    """The engines whose sessions are listed in the index."""
    session_settings.SESSION_ENGINE = ENGINES[request.param]
    return str(request.param)
