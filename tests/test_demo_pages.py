"""The demo as configured by default (no ``/insecure/``), here on signed-cookie sessions.

Signed cookies live in the browser: they can be neither listed nor deleted server-side.
The demo says so on "my sessions", and deleting a user still signs out their cookies
(authzguard bumps a per-user session generation).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.server import DemoClient, DemoServer, start_demo_server


@pytest.fixture(scope="module")
def cookie_demo(
    tmp_path_factory: pytest.TempPathFactory, demo_migrated_sqlite: Path
) -> Iterator[DemoServer]:
    server = start_demo_server(
        tmp_path_factory.mktemp("demo-cookies"),
        {"SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"},
        migrated_sqlite=demo_migrated_sqlite,
    )
    yield server
    server.stop()


def test_insecure_views_are_not_mounted_by_default(cookie_demo: DemoServer) -> None:
    alice = DemoClient(cookie_demo.base_url).login("alice")
    for path in ("/insecure/", "/insecure/sessions/end/", "/insecure/users/delete/?id=1"):
        assert alice.get(path).status == 404, path
    home = alice.get("/")
    assert home.status == 200
    assert 'id="insecure-warning"' not in home.text


def test_my_sessions_explains_that_signed_cookies_cannot_be_listed(cookie_demo: DemoServer) -> None:
    page = DemoClient(cookie_demo.base_url).login("alice").get("/sessions/")
    assert page.status == 200
    assert 'id="unlisted"' in page.text
    assert "cannot be listed" in page.text


def test_deleting_a_user_signs_out_their_signed_cookies(cookie_demo: DemoServer) -> None:
    ids = cookie_demo.seeded()
    bob = DemoClient(cookie_demo.base_url).login("bob")
    admin = DemoClient(cookie_demo.base_url).login("admin")
    assert admin.post("/users/delete/", form={"id": str(ids["bob"])}).json() == {
        "deleted": ids["bob"]
    }
    assert bob.whoami() == {"authenticated": False, "username": None}


def test_pages_for_a_person(cookie_demo: DemoServer) -> None:
    cookie_demo.seeded()
    anonymous = DemoClient(cookie_demo.base_url)
    assert anonymous.get("/").status == 200
    login = anonymous.get("/accounts/login/")
    assert "alice-demo-password" in login.text, "the sign-in page lists the seeded accounts"
    assert anonymous.get("/sessions/").location == "/accounts/login/?next=/sessions/"

    alice = DemoClient(cookie_demo.base_url).login("alice")
    denied = alice.get("/users/", headers={"Accept": "text/html"})
    assert denied.status == 403
    assert "Access denied" in denied.text

    admin = DemoClient(cookie_demo.base_url).login("admin")
    users = admin.get("/users/")
    assert users.status == 200
    assert 'id="delete-alice"' in users.text
    assert 'id="delete-admin"' not in users.text, "no button for deleting yourself"
    assert admin.get("/no/such/page/").status == 404


def test_seed_demo_is_idempotent_and_restores_accounts(cookie_demo: DemoServer) -> None:
    cookie_demo.seed()
    again = cookie_demo.manage("seed_demo")
    assert again.count("[unchanged]") == 3, again

    admin = DemoClient(cookie_demo.base_url).login("admin")
    bob_id = cookie_demo.accounts["bob"]
    assert admin.post("/users/delete/", form={"id": str(bob_id)}).status == 200
    restored = cookie_demo.manage("seed_demo")
    assert "bob-demo-password" in restored
    assert restored.count("[unchanged]") == 2, restored
    assert "[created]" in restored
    assert DemoClient(cookie_demo.base_url).can_login("bob", "bob-demo-password")
