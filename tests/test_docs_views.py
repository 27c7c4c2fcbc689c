"""docs/views.md: its policy loads, its code runs, and its requests answer as the text says."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.template import Context, Template
from django.test import Client, override_settings

from authzguard.checks import check_enforcement
from authzguard.policy import lint_paths

pytest.importorskip("rest_framework")
pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[1] / "docs" / "views.md"
MODULE = "tests._docs_views_example"


def blocks(language: str) -> list[str]:
    return [
        body
        for lang, body in re.findall(r"^```(\w+)\n(.*?)^```", DOC.read_text(), re.S | re.M)
        if lang == language
    ]


def settings_blocks() -> list[dict[str, Any]]:
    found = []
    for source in blocks("python"):
        if source.startswith("# settings.py"):
            namespace: dict[str, Any] = {}
            exec(compile(source, f"{DOC}:settings", "exec"), namespace)
            found.append(namespace)
    return found


@pytest.fixture
def docs_site(tmp_path: Path) -> Iterator[types.ModuleType]:
    (policy_text,) = blocks("yaml")
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    module = types.ModuleType(MODULE)
    sys.modules[MODULE] = module
    for source in blocks("python"):
        if not source.startswith("# settings.py"):
            exec(compile(source, str(DOC), "exec"), module.__dict__)
    site = settings_blocks()[0]
    try:
        with override_settings(
            ROOT_URLCONF=MODULE,
            MIDDLEWARE=site["MIDDLEWARE"],
            AUTHZGUARD_POLICY_PATHS=[policy],
            AUTHZGUARD_DENY_BY_DEFAULT=site["AUTHZGUARD_DENY_BY_DEFAULT"],
        ):
            yield module
    finally:
        del sys.modules[MODULE]


@pytest.fixture
def people() -> dict[str, User]:
    return {
        "alice": User.objects.create_user("alice", "alice@example.com", "pw"),
        "bob": User.objects.create_user("bob", "bob@example.com", "pw"),
        "admin": User.objects.create_superuser("root", "root@example.com", "pw"),
    }


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_policy_block_lints_clean(tmp_path: Path) -> None:
    (policy_text,) = blocks("yaml")
    (tmp_path / "policy.yaml").write_text(policy_text)
    policy, findings = lint_paths([tmp_path / "policy.yaml"])
    assert findings == []
    assert policy is not None and set(policy.routes) == {"account-delete"}


def test_docs_configuration_passes_the_checks(docs_site: types.ModuleType) -> None:
    assert check_enforcement() == []


def test_decorator_examples(docs_site: types.ModuleType, people: dict[str, User]) -> None:
    alice, bob, admin = people["alice"], people["bob"], people["admin"]
    client = as_user(alice)
    assert client.post("/sessions/end/", {"email": "bob@example.com"}).status_code == 403
    duplicated = client.post("/sessions/end/?email=alice@example.com", {"email": "bob@example.com"})
    assert duplicated.status_code == 400
    assert client.get("/sessions/end/?email=alice@example.com").status_code == 405
    assert client.post("/users/delete/", {"id": "٣"}).status_code == 400
    assert client.post("/users/delete/", {"id": bob.pk}).status_code == 403
    assert client.post("/sessions/end/", {"email": "alice@example.com"}).json() == {"ended": 1}
    assert as_user(admin).post("/users/delete/", {"id": bob.pk}).json() == {"deleted": bob.pk}
    assert Client().get("/").status_code == 200


def test_resolver_example(docs_site: types.ModuleType, people: dict[str, User]) -> None:
    alice = people["alice"]
    assert as_user(alice).post("/sessions/mine/end/").json() == {"owner": alice.pk}
    assert Client().post("/sessions/mine/end/").status_code == 302


def test_routes_example(docs_site: types.ModuleType, people: dict[str, User]) -> None:
    bob = people["bob"]
    assert as_user(people["alice"]).post("/accounts/delete/", {"id": bob.pk}).status_code == 403
    response = as_user(people["admin"]).post("/accounts/delete/", {"id": bob.pk})
    assert response.json() == {"deleted": bob.pk}


def test_class_based_and_drf_examples(docs_site: types.ModuleType, people: dict[str, User]) -> None:
    alice, bob = people["alice"], people["bob"]
    client = as_user(alice)
    assert client.get(f"/accounts/{alice.pk}/").json() == {"username": "alice"}
    assert client.get(f"/accounts/{bob.pk}/").status_code == 403
    assert client.get(f"/api/accounts/{alice.pk}/").json() == {"id": alice.pk, "username": "alice"}
    assert client.get(f"/api/accounts/{bob.pk}/").status_code == 403


def test_generic_delete_view_example(docs_site: types.ModuleType, people: dict[str, User]) -> None:
    """The confirmation is shown exactly to those who may delete; PUT stays a 405."""
    alice, bob, admin = people["alice"], people["bob"], as_user(people["admin"])
    assert admin.get(f"/accounts/{bob.pk}/delete/").json() == {"confirm": "Delete bob?"}
    assert as_user(alice).get(f"/accounts/{bob.pk}/delete/").status_code == 403
    assert as_user(alice).post(f"/accounts/{bob.pk}/delete/").status_code == 403
    assert admin.put(f"/accounts/{bob.pk}/delete/").status_code == 405
    with override_settings(AUTHZGUARD_HIDE_EXISTENCE=True):
        hidden = as_user(alice).get(f"/accounts/{bob.pk}/delete/")
        missing = as_user(alice).get("/accounts/9999/delete/")
    assert hidden.status_code == missing.status_code == 404
    assert admin.post(f"/accounts/{bob.pk}/delete/").status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()


def test_unexecuted_examples_are_the_example_apps_code() -> None:
    """The ``py`` blocks quote tests/projectapp/views.py and api.py, which
    tests/test_generic_views.py and tests/test_drf_viewsets.py run."""
    app = DOC.parents[1] / "tests" / "projectapp"
    source = (app / "views.py").read_text() + (app / "api.py").read_text()
    quoted = blocks("py")
    assert quoted
    for block in quoted:
        assert block in source, block


def test_backend_and_template_examples(
    docs_site: types.ModuleType, people: dict[str, User]
) -> None:
    alice, bob = people["alice"], people["bob"]
    (backends,) = (
        b["AUTHENTICATION_BACKENDS"] for b in settings_blocks() if "AUTHENTICATION_BACKENDS" in b
    )
    with override_settings(AUTHENTICATION_BACKENDS=backends):
        assert User.objects.get(pk=alice.pk).has_perm("user.read", alice)
        assert not User.objects.get(pk=alice.pk).has_perm("user.read", bob)
    (template_text,) = blocks("django")
    template = Template(template_text)
    assert "<button>" in template.render(Context({"user": people["admin"], "account": bob}))
    assert "<button>" not in template.render(Context({"user": alice, "account": bob}))


def test_every_check_id_and_setting_is_documented() -> None:
    from authzguard.checks import MESSAGES
    from authzguard.conf import Settings

    text = DOC.read_text()
    for check_id, *_ in MESSAGES:
        assert f"`{check_id}`" in text, check_id
    documented = set(re.findall(r"`(AUTHZGUARD_[A-Z_]+)", text))
    declared = {f"AUTHZGUARD_{name}" for name in vars(Settings) if name.isupper()}
    enforcement = declared - {
        "AUTHZGUARD_ENGINE",
        "AUTHZGUARD_MAX_POLICY_BYTES",
        *(name for name in declared if name.startswith("AUTHZGUARD_SESSION")),
        *RELOAD_SETTINGS,  # docs/operations.md
    }
    assert documented <= declared
    assert enforcement <= documented, enforcement - documented


RELOAD_SETTINGS = (
    "AUTHZGUARD_RELOAD",
    "AUTHZGUARD_RELOAD_INTERVAL",
    "AUTHZGUARD_RELOAD_NOTIFY",
    "AUTHZGUARD_REDIS_URL",
    "AUTHZGUARD_NOTIFY_CHANNEL",
)


def test_reload_settings_and_checks_are_documented_in_operations() -> None:
    from authzguard.reload_checks import MESSAGES

    operations = (DOC.parent / "operations.md").read_text()
    settings_doc = (DOC.parent / "settings.md").read_text()
    for name in RELOAD_SETTINGS:
        assert name in operations, name
    for check_id, *_ in MESSAGES:
        assert check_id in settings_doc, check_id
