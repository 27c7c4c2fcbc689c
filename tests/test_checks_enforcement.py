"""System checks authzguard.E0xx / W0xx: each fires on its mistake, and only then."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.checks import Error, run_checks
from django.test import override_settings

from authzguard.checks import MESSAGES, check_enforcement

VARIANTS = Path(__file__).parent / "enforcement_policies"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
CSRF = "django.middleware.csrf.CsrfViewMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
GUARD = "authzguard.middleware.AuthzGuardMiddleware"
MISCONFIGURED = {
    "ROOT_URLCONF": "tests.testapp.check_urls",
    "AUTHZGUARD_POLICY_PATHS": [VARIANTS / "checks.yaml"],
}


def ids() -> list[str]:
    return sorted(message.id or "" for message in check_enforcement())


def test_messages_have_unique_ids_in_range_and_hints() -> None:
    check_ids = [check_id for check_id, *_ in MESSAGES]
    assert len(check_ids) == len(set(check_ids))
    for check_id, level, message, hint in MESSAGES:
        assert re.fullmatch(r"authzguard\.[EW]0\d\d", check_id)
        assert check_id[11] == ("E" if level is Error else "W")
        assert message and hint.strip()


def test_ids_do_not_collide_with_other_authzguard_checks() -> None:
    from authzguard.sessions.checks import MESSAGES as SESSION_MESSAGES

    mine = {check_id for check_id, *_ in MESSAGES}
    assert mine.isdisjoint(check_id for check_id, *_ in SESSION_MESSAGES)


PACKAGE = Path(__file__).resolve().parent.parent / "authzguard"
CHECK_ID = re.compile(r"authzguard\.[EW]\d{3}")


def _defined_ids() -> list[str]:
    """Every check id defined in the package: an entry of a ``*MESSAGES`` table (each
    entry once, however many tables re-export it), or an ``id="..."`` given directly
    (as ``ModelAdmin.check()`` messages are)."""
    import importlib
    import pkgutil

    import authzguard

    entries: dict[int, str] = {}
    for info in pkgutil.walk_packages(authzguard.__path__, "authzguard."):
        if ".migrations" in info.name or info.name.endswith(("pytest_plugin", "__main__")):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.endswith("MESSAGES") and isinstance(value, tuple):
                entries.update((id(entry), entry[0]) for entry in value)
    direct = [
        found
        for source in PACKAGE.rglob("*.py")
        for found in re.findall(r"\bid=\"(authzguard\.[EW]\d{3})\"", source.read_text())
    ]
    return [*entries.values(), *direct]


def test_every_check_id_is_defined_once_and_documented() -> None:
    defined = _defined_ids()
    assert len(defined) == len(set(defined)), sorted(i for i in defined if defined.count(i) > 1)
    used = {m for source in PACKAGE.rglob("*.py") for m in CHECK_ID.findall(source.read_text())}
    docs = " ".join(page.read_text() for page in (PACKAGE.parent / "docs").glob("*.md"))
    # In full, or as `E072` right after its neighbour `authzguard.E071`.
    documented = {f"authzguard.{i}" for i in re.findall(r"`(?:authzguard\.)?([EW]\d{3})`", docs)}
    views_table = re.findall(
        r"^\| `(authzguard\.[EW]\d{3})`", (PACKAGE.parent / "docs" / "views.md").read_text(), re.M
    )
    assert len(views_table) == len(set(views_table))
    assert used <= set(defined), used - set(defined)  # no id named but never raised
    assert set(defined) <= documented, set(defined) - documented
    assert set(views_table) <= set(defined), set(views_table) - set(defined)
    assert "authzguard.E039" in defined  # the admin's, from ModelAdmin.check()


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        (["authzguard.outage.ServiceUnavailableMiddleware", SESSION, CSRF, AUTH, GUARD], []),
        (
            [SESSION, "authzguard.outage.ServiceUnavailableMiddleware", CSRF, AUTH, GUARD],
            ["authzguard.W080"],
        ),
        (
            [SESSION, CSRF, AUTH, GUARD, "authzguard.outage.ServiceUnavailableMiddleware"],
            ["authzguard.W080"],
        ),
        ([SESSION, CSRF, AUTH, GUARD], []),
    ],
)
def test_the_outage_middleware_must_come_before_the_session_layers(
    middleware: list[str], expected: list[str]
) -> None:
    with override_settings(MIDDLEWARE=middleware):
        assert [i for i in ids() if i.startswith("authzguard.W08")] == expected


def test_test_configuration_is_clean() -> None:
    assert check_enforcement() == []
    assert not [
        m for m in run_checks() if (m.id or "").startswith("authzguard.") and m.id[11] == "E"
    ]


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        ([GUARD, SESSION, CSRF, AUTH], ["authzguard.E001", "authzguard.W001"]),
        ([SESSION, CSRF, GUARD, AUTH], ["authzguard.E001"]),
        ([SESSION, AUTH, GUARD, CSRF], ["authzguard.W001"]),
        ([SESSION, CSRF, AUTH, GUARD], []),
        # Not installed: decorated views protect themselves (W), YAML routes do not (E).
        ([SESSION, CSRF, AUTH], ["authzguard.E002", "authzguard.W002"]),
    ],
)
def test_middleware_order(middleware: list[str], expected: list[str]) -> None:
    with override_settings(MIDDLEWARE=middleware):
        assert ids() == expected


def test_w002_lists_the_decorated_views() -> None:
    with override_settings(MIDDLEWARE=[SESSION, CSRF, AUTH]):
        (w002,) = [m for m in check_enforcement() if m.id == "authzguard.W002"]
    assert "delete-user" in w002.msg and "end-sessions" in w002.msg


def test_policy_errors_are_reported_with_file_and_line() -> None:
    with override_settings(AUTHZGUARD_POLICY_PATHS=[VARIANTS / "broken.yaml"]):
        messages = check_enforcement()
    assert [m.id for m in messages] == ["authzguard.E003", "authzguard.E003"]
    assert "broken.yaml:5:16" in messages[0].msg and "AZ202" in messages[0].msg
    assert "AZ203" in messages[1].msg


def test_every_misconfiguration_is_found() -> None:
    with override_settings(**MISCONFIGURED):
        found = {(m.id, m.obj) for m in check_enforcement()}
    assert found == {
        ("authzguard.E060", "user"),
        ("authzguard.E010", "csrf-exempt-delete"),
        ("authzguard.E004", "undeclared-action"),
        ("authzguard.E004", "undeclared-kind"),
        ("authzguard.E006", "unknown-field"),
        ("authzguard.E005", "unknown-model"),
        ("authzguard.E011", "path-not-captured"),
        ("authzguard.E008", "bound-twice"),
        ("authzguard.E007", "bad-resolver"),
        ("authzguard.E012", "mixin-without-action"),
        ("authzguard.E005", "inner:unbound-inner"),
        ("authzguard.E009", "no-such-url"),
    }


def test_unbound_views_are_listed_under_deny_by_default() -> None:
    with override_settings(**MISCONFIGURED, AUTHZGUARD_DENY_BY_DEFAULT=True):
        unbound = sorted(m.obj for m in check_enforcement() if m.id == "authzguard.W003")
    assert unbound == ["unbound"]
    with override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True):
        unbound = sorted(m.obj for m in check_enforcement() if m.id == "authzguard.W003")
    # The test URLconf's own unbound views; login is allow-listed, public is exempt.
    assert unbound == ["unbound", "unprotected-user"]
    with override_settings(
        AUTHZGUARD_DENY_BY_DEFAULT=True,
        AUTHZGUARD_ALLOWED_VIEWS=["login", "unbound", "tests.testapp.views.*"],
    ):
        assert ids() == []


def test_checks_are_registered() -> None:
    with override_settings(**MISCONFIGURED):
        registered = {m.id for m in run_checks()}
    assert {"authzguard.E008", "authzguard.E010"} <= registered
