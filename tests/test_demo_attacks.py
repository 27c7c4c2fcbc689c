"""Before and after: the same attack requests against the original views and the protected ones.

alice, an ordinary signed-in user, attacks bob through the two flaws that started the
project. Against ``/insecure/…`` (the original views, mounted with ``DEMO_INSECURE=1``)
every attack works: the flaw is real. Against the protected views the very same
requests are refused and nothing changes: bob keeps his sessions and his account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.server import DemoClient, DemoServer, Response

PASSWORDS = {
    "admin": "admin-demo-password",
    "alice": "alice-demo-password",
    "bob": "bob-demo-password",
}


@dataclass(frozen=True)
class Attack:
    """One request alice sends against bob; ``{bob_id}``/``{bob_email}`` are filled in."""

    name: str
    method: str
    path: str
    form: dict[str, str] | None = None
    json_body: dict[str, str] | None = None

    def send(self, client: DemoClient, prefix: str, ids: dict[str, int]) -> Response:
        def fill(value: str) -> Any:
            if value == "{bob_id}":
                return ids["bob"]  # a number in JSON, as an API client sends it
            return value.format(bob_id=ids["bob"], bob_email="bob@example.com")

        form = {k: str(fill(v)) for k, v in self.form.items()} if self.form else None
        json_body = {k: fill(v) for k, v in self.json_body.items()} if self.json_body else None
        return client.request(self.method, prefix + fill(self.path), form=form, json_body=json_body)


END_BOBS_SESSIONS = [
    Attack("form", "POST", "/sessions/end/", form={"email": "{bob_email}"}),
    Attack("json", "POST", "/sessions/end/", json_body={"email": "{bob_email}"}),
]
DELETE_BOB = [
    Attack("form", "POST", "/users/delete/", form={"id": "{bob_id}"}),
    Attack("json", "POST", "/users/delete/", json_body={"id": "{bob_id}"}),
    # The original took GET ?id=: a link or an <img> deletes whoever is looking at it.
    Attack("get-query", "GET", "/users/delete/?id={bob_id}"),
]
INSECURE, PROTECTED = "/insecure", ""


@pytest.fixture
def ids(demo_server: DemoServer) -> dict[str, int]:
    return demo_server.seeded()


@pytest.fixture
def sign_in(demo_server: DemoServer) -> Callable[[str], DemoClient]:
    def sign_in(username: str) -> DemoClient:
        client = DemoClient(demo_server.base_url)
        client.get("/")  # the CSRF cookie, as a browser would have it
        return client.login(username)

    return sign_in


def bob_exists(sign_in: Callable[[str], DemoClient], ids: dict[str, int]) -> bool:
    page = sign_in("admin").get("/users/")
    assert page.status == 200
    return 'id="user-bob"' in page.text and "bob@example.com" in page.text


@pytest.mark.parametrize("attack", END_BOBS_SESSIONS, ids=lambda a: a.name)
def test_ending_bobs_sessions_works_against_the_original_view(
    attack: Attack, ids: dict[str, int], sign_in: Callable[[str], DemoClient]
) -> None:
    bob_laptop, bob_phone = sign_in("bob"), sign_in("bob")
    alice = sign_in("alice")

    answer = attack.send(alice, INSECURE, ids)

    assert answer.status == 200, answer.text
    assert answer.json() == {"ended": 2}
    assert not bob_laptop.whoami()["authenticated"]
    assert not bob_phone.whoami()["authenticated"]


@pytest.mark.parametrize("attack", END_BOBS_SESSIONS, ids=lambda a: a.name)
def test_ending_bobs_sessions_is_refused_by_the_protected_view(
    attack: Attack, ids: dict[str, int], sign_in: Callable[[str], DemoClient]
) -> None:
    bob_laptop, bob_phone = sign_in("bob"), sign_in("bob")
    alice = sign_in("alice")

    answer = attack.send(alice, PROTECTED, ids)

    assert answer.status == 403
    assert bob_laptop.whoami() == {"authenticated": True, "username": "bob"}
    assert bob_phone.whoami() == {"authenticated": True, "username": "bob"}
    assert alice.whoami() == {"authenticated": True, "username": "alice"}


@pytest.mark.parametrize("attack", DELETE_BOB, ids=lambda a: a.name)
def test_deleting_bob_works_against_the_original_view(
    attack: Attack, ids: dict[str, int], sign_in: Callable[[str], DemoClient]
) -> None:
    bob = sign_in("bob")
    alice = sign_in("alice")

    answer = attack.send(alice, INSECURE, ids)

    assert answer.status == 200, answer.text
    assert answer.json() == {"deleted": ids["bob"]}
    assert not bob_exists(sign_in, ids)
    assert not bob.whoami()["authenticated"]


@pytest.mark.parametrize("attack", DELETE_BOB, ids=lambda a: a.name)
def test_deleting_bob_is_refused_by_the_protected_view(
    attack: Attack, ids: dict[str, int], sign_in: Callable[[str], DemoClient]
) -> None:
    bob = sign_in("bob")
    alice = sign_in("alice")

    answer = attack.send(alice, PROTECTED, ids)

    # A state-changing action never answers GET: 405 before any lookup.
    assert answer.status == (405 if attack.method == "GET" else 403)
    assert bob_exists(sign_in, ids)
    assert bob.whoami() == {"authenticated": True, "username": "bob"}


def test_denial_is_a_page_for_people_and_json_for_api_clients(
    ids: dict[str, int], sign_in: Callable[[str], DemoClient]
) -> None:
    alice = sign_in("alice")

    page = alice.post(
        "/sessions/end/", form={"email": "bob@example.com"}, headers={"Accept": "text/html"}
    )
    assert page.status == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "Access denied" in page.text
    assert "Nothing was changed." in page.text

    api = alice.post(
        "/sessions/end/",
        json_body={"email": "bob@example.com"},
        headers={"Accept": "application/json"},
    )
    assert api.status == 403
    assert api.json()["error"] == "forbidden"


def test_the_owner_and_the_admin_can_still_do_their_jobs(
    ids: dict[str, int], sign_in: Callable[[str], DemoClient]
) -> None:
    alice_laptop, alice_phone = sign_in("alice"), sign_in("alice")
    answer = alice_phone.post("/sessions/end/", json_body={"email": "alice@example.com"})
    assert answer.status == 200
    # Every session alice has open on this server, including earlier tests' ones.
    assert answer.json()["ended"] >= 2
    assert not alice_laptop.whoami()["authenticated"]
    assert not alice_phone.whoami()["authenticated"]

    bob = sign_in("bob")
    admin = sign_in("admin")
    answer = admin.post("/users/delete/", form={"id": str(ids["bob"])})
    assert answer.status == 200
    assert answer.json() == {"deleted": ids["bob"]}
    # The deletion hook purged bob's session: his cookie is anonymous on the next request.
    assert bob.whoami() == {"authenticated": False, "username": None}
    assert not bob_exists(sign_in, ids)


def test_anonymous_callers_are_sent_to_sign_in(
    demo_server: DemoServer, ids: dict[str, int]
) -> None:
    anonymous = DemoClient(demo_server.base_url)
    form = anonymous.post("/users/delete/", form={"id": str(ids["bob"])})
    assert form.status == 302
    assert form.location.startswith("/accounts/login/?next=")

    api = anonymous.post(
        "/sessions/end/",
        json_body={"email": "bob@example.com"},
        headers={"Accept": "application/json"},
    )
    assert api.status == 401
    # The original views checked sign-in too: authentication was never the problem.
    assert (
        anonymous.post("/insecure/sessions/end/", form={"email": "bob@example.com"}).status == 302
    )


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ([("id", "{bob}"), ("id", "{alice}")], 400),  # repeated parameter
        ([("id", " {bob}")], 400),  # not canonical digits
        ([("id", "-1")], 400),
        ([("id", "x" * 300)], 400),
        ([], 400),  # missing
        ([("id", "987654321")], 404),
    ],
    ids=["repeated", "space", "negative", "oversized", "missing", "unknown"],
)
def test_malformed_targets_are_refused_before_any_lookup(
    form: list[tuple[str, str]],
    status: int,
    ids: dict[str, int],
    sign_in: Callable[[str], DemoClient],
) -> None:
    admin = sign_in("admin")
    filled = [(k, v.format(bob=ids["bob"], alice=ids["alice"])) for k, v in form]
    answer = admin.post("/users/delete/", form=filled, headers={"Accept": "text/html"})
    assert answer.status == status, answer.text[:300]
    assert "Nothing was changed." in answer.text
    api = admin.post("/users/delete/", form=filled, headers={"Accept": "application/json"})
    assert api.status == status
    assert api.json()["error"] == {400: "bad_request", 404: "not_found"}[status]
    assert bob_exists(sign_in, ids)


def test_whoami_shape(demo_server: DemoServer, sign_in: Callable[[str], DemoClient]) -> None:
    assert DemoClient(demo_server.base_url).whoami() == {"authenticated": False, "username": None}
    assert sign_in("alice").whoami() == {"authenticated": True, "username": "alice"}


def test_insecure_mode_shows_a_warning_on_every_page(
    demo_server: DemoServer, sign_in: Callable[[str], DemoClient]
) -> None:
    alice = sign_in("alice")
    for path in ("/", "/sessions/", "/insecure/", "/accounts/login/"):
        page = alice.get(path)
        assert page.status == 200, path
        assert 'id="insecure-warning"' in page.text, path
        assert "WARNING: DEMO_INSECURE=1" in page.text


def test_a_wrong_method_is_a_page_for_people_and_bare_for_api_clients(
    ids: dict[str, int], sign_in: Callable[[str], DemoClient]
) -> None:
    alice = sign_in("alice")
    page = alice.get(f"/users/delete/?id={ids['bob']}", headers={"Accept": "text/html"})
    assert page.status == 405
    assert page.headers["allow"] == "POST, DELETE"
    assert "Method not allowed" in page.text
    api = alice.get(f"/users/delete/?id={ids['bob']}", headers={"Accept": "application/json"})
    assert api.status == 405
    assert api.body == b""
