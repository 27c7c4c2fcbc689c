"""docs/sessions.md: its code runs in a real request, its settings and check ids are the code's."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse

from authzguard.conf import Settings
from authzguard.sessions.checks import MESSAGES
from tests.sessions_support import (
    MIDDLEWARE,
    PASSWORD,
    is_signed_in,
    make_user,
    session_settings,
    signed_in,
)

__all__ = ["session_settings"]  # fixtures, used by name

DOC = Path(__file__).resolve().parents[1] / "docs" / "sessions.md"
TEXT = DOC.read_text()
BLOCKS = [
    textwrap.dedent(body) for body in re.findall(r"```python\n(.*?)^\s*```", TEXT, re.S | re.M)
]


def test_every_documented_setting_exists_with_its_documented_default() -> None:
    documented = dict(re.findall(r"`AUTHZGUARD_(SESSION_\w+): \w+ = (\w+)`", TEXT))
    code = {name for name in vars(Settings) if name.startswith("SESSION_")}
    assert set(documented) == code
    empty = Settings()
    for name, default in documented.items():
        assert repr(getattr(empty, name)) == default


def test_every_check_id_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"`(authzguard\.[EW]1\d\d)`", TEXT))
    assert documented == {check_id for check_id, _, _, _ in MESSAGES}


def test_the_middleware_block_is_the_one_the_checks_accept() -> None:
    namespace: dict[str, Any] = {}
    exec(next(b for b in BLOCKS if "MIDDLEWARE" in b), namespace)
    listed = [m for m in namespace["MIDDLEWARE"] if m in MIDDLEWARE]
    assert listed == [m for m in MIDDLEWARE if m in namespace["MIDDLEWARE"]]
    assert listed[-1] == "authzguard.sessions.middleware.SessionIndexMiddleware"


@pytest.mark.django_db
@pytest.mark.parametrize("example", [0, 1])
def test_the_code_examples_run_inside_a_request(session_settings: Any, example: int) -> None:
    from django.urls import path

    import tests.sessions_support as urls

    (source,) = [b for b in BLOCKS if "MIDDLEWARE" not in b and "urlpatterns" not in b][
        example : example + 1
    ]
    alice, bob = make_user("alice"), make_user("bob")
    browser, phone, bob_browser = signed_in(alice), signed_in(alice), signed_in(bob)

    def view(request: HttpRequest) -> HttpResponse:
        exec(compile(source, str(DOC), "exec"), {"request": request, "user": alice})
        return HttpResponse("ran")

    session_settings.ROOT_URLCONF = type(
        "Urls", (), {"urlpatterns": [path("docs/", view), *urls.urlpatterns]}
    )
    assert browser.get("/docs/").content == b"ran"
    # Each block ends at least the other browser of alice, never bob's.
    assert not is_signed_in(phone)
    assert is_signed_in(bob_browser)


def test_an_anonymous_user_is_refused_clearly() -> None:
    from django.contrib.auth.models import AnonymousUser

    from authzguard.sessions import purge_user_sessions

    with pytest.raises(ValueError, match="anonymous user"):
        purge_user_sessions(AnonymousUser())


def test_the_url_block_mounts_the_view() -> None:
    namespace: dict[str, Any] = {}
    exec(next(b for b in BLOCKS if "urlpatterns" in b), namespace)
    (pattern,) = namespace["urlpatterns"]
    assert pattern.name == "end-own-sessions"


@pytest.mark.django_db
def test_the_login_view_block_mounts_authzguards_login_view(session_settings: Any) -> None:
    from django.test import Client

    from authzguard.sessions.views import LoginView

    namespace: dict[str, Any] = {}
    exec(next(b for b in BLOCKS if "LoginView" in b), namespace)
    (pattern,) = namespace["urlpatterns"]
    assert pattern.callback.view_class is LoginView
    session_settings.ROOT_URLCONF = type("Urls", (), {"urlpatterns": [pattern]})
    make_user("alice")
    browser = Client()
    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert browser.session.get("_auth_user_id") is not None
