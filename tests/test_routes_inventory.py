"""``manage.py authzguard_routes``: the route inventory (issue 13 item 6)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.browser.server import demo_environment, manage


def _inventory(**options: Any) -> dict[str, dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    call_command("authzguard_routes", format="json", stdout=out, stderr=err, **options)
    return {entry["view"]: entry for entry in json.loads(out.getvalue())}


def test_the_demo_site_has_no_unprotected_view() -> None:
    """`make test` runs this: the demo's URLconf, its settings, its policy."""
    output = manage(demo_environment({}), "authzguard_routes", "--fail-on", "unprotected")
    assert "/users/delete/  delete-user  [decorator]" in output
    assert "POST/DELETE user.delete target body:id->pk; allowed by: admin-delete-user" in output
    insecure = manage(
        demo_environment({"DEMO_INSECURE": "1"}), "authzguard_routes", "--format", "json"
    )
    flagged = {e["view"]: e for e in json.loads(insecure)}
    assert flagged["insecure:delete-user"]["binding"] == "allow-listed"
    assert flagged["insecure:delete-user"]["flags"] == ["wildcard-exemption"]
    assert flagged["insecure:delete-user"]["exempted_by"] == "insecure:*"


@pytest.mark.django_db
def test_every_kind_of_binding_is_reported() -> None:
    entries = _inventory()
    delete = entries["delete-user"]
    assert delete["url"] == "/users/delete/" and delete["binding"] == "decorator"
    [bound] = delete["bound"]
    assert (bound["action"], bound["kind"], bound["source"], bound["param"], bound["field"]) == (
        "delete",
        "user",
        "body",
        "id",
        "pk",
    )
    assert bound["methods"] == ["POST", "DELETE"] and bound["rules"]
    assert entries["yaml-delete-user"]["binding"] == "route"
    assert entries["note-detail"]["binding"] == "mixin"
    assert entries["api-users"]["binding"] == "drf"
    assert entries["login"]["binding"] == "allow-listed"
    edit = entries["edit-note-strict"]["bound"][0]
    assert edit["field"] == "resolver strict_resolver"


@pytest.mark.django_db
def test_unbound_views_fail_on_unprotected() -> None:
    entries = _inventory()
    assert entries["unprotected-user"]["binding"] == "none"
    assert entries["unprotected-user"]["flags"] == ["unbound", "unprotected"]
    with pytest.raises(SystemExit) as exit_info:
        _inventory(fail_on="unprotected")
    assert exit_info.value.code == 1
    with override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True):
        # Refused at run time, but still unbound: a view nobody can use is a finding.
        assert _inventory()["unprotected-user"]["flags"] == ["unbound"]


@pytest.mark.django_db
@override_settings(AUTHZGUARD_STATE_CHANGING_METHODS=["GET", "POST"])
def test_state_changes_through_get_are_flagged() -> None:
    entries = _inventory()
    assert "state-change-by-get" in entries["delete-user"]["flags"]
    assert "state-change-by-get" not in entries["read-user"]["flags"]  # a safe action


@pytest.mark.django_db
@override_settings(AUTHZGUARD_EXTRA_ALLOWED_VIEWS=["unprotected-*"])
def test_exemptions_by_wildcard_are_flagged() -> None:
    entry = _inventory()["unprotected-user"]
    assert entry["binding"] == "allow-listed" and entry["flags"] == ["wildcard-exemption"]
