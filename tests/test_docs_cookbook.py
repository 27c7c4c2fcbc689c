"""docs/cookbook.md: its policy is the example app's, its ``py`` blocks are the app's code
(run by the app's tests), and its ``python`` blocks run against the app."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import path

from authzguard.policy import lint_paths
from tests.projectapp.models import Project

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cookbook.md"
APP = ROOT / "tests" / "projectapp"
POLICY = APP / "policies" / "projects.yaml"


def blocks(language: str) -> list[str]:
    return [
        body
        for lang, body in re.findall(r"^```(\w+)\n(.*?)^```", DOC.read_text(), re.S | re.M)
        if lang == language
    ]


def test_the_policy_is_the_example_apps_and_lints_clean(tmp_path: Path) -> None:
    (policy_text,) = blocks("yaml")
    assert policy_text == POLICY.read_text()
    policy, findings = lint_paths([POLICY])
    assert findings == [] and policy is not None


def test_every_py_block_is_the_example_apps_code() -> None:
    sources = "".join(
        p.read_text()
        for p in (
            *sorted(APP.glob("*.py")),
            ROOT / "tests" / "test_drf_viewsets.py",
        )
    )
    quoted = blocks("py")
    assert len(quoted) >= 8
    for block in quoted:
        assert block in sources, block


@pytest.mark.django_db
def test_the_function_view_runs() -> None:
    module = types.ModuleType("tests._docs_cookbook_example")
    for source in blocks("python"):
        exec(compile(source, str(DOC), "exec"), module.__dict__)
    module.urlpatterns = [path("projects/<int:pk>/name/", module.project_name)]  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    owner = User.objects.create_user("olivia")
    stranger = User.objects.create_user("sam")
    project = Project.objects.create(owner=owner, name="Apollo")
    try:
        with override_settings(ROOT_URLCONF=module.__name__, AUTHZGUARD_POLICY_PATHS=[POLICY]):
            mine, theirs = Client(), Client()
            mine.force_login(owner)
            theirs.force_login(stranger)
            assert mine.get(f"/projects/{project.pk}/name/").json() == {"name": "Apollo"}
            assert theirs.get(f"/projects/{project.pk}/name/").status_code == 403
            assert mine.get(f"/projects/{project.pk + 1}/name/").status_code == 404
    finally:
        del sys.modules[module.__name__]
