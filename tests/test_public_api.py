"""The public API: what ``authzguard`` exports, lazily, so that settings may import it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import authzguard
from tests.suites import ROOT

PUBLIC = {
    "authorize": "authzguard.decorators",
    "authz_exempt": "authzguard.decorators",
    "AuthorizeMixin": "authzguard.mixins",
    "AuthorizedListMixin": "authzguard.list_views",
    "Authorization": "authzguard.guard",
    "filter_queryset": "authzguard.filtering",
    "decide": "authzguard",
    "reload_policy": "authzguard.runtime",
}


def run(code: str, tmp_path: Path, settings_text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "probe_settings.py").write_text(textwrap.dedent(settings_text))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    env["DJANGO_SETTINGS_MODULE"] = "probe_settings"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_settings_may_import_authzguard_before_apps_are_ready(tmp_path: Path) -> None:
    settings = """\
        import authzguard

        SECRET_KEY = "probe"
        INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "authzguard"]
        AUTHZGUARD_VERSION = authzguard.__version__
        """
    code = """\
        import sys
        import django
        from django.conf import settings

        assert settings.AUTHZGUARD_VERSION, "the settings module ran"
        adapters = [m for m in sys.modules if m.startswith("authzguard.")]
        assert adapters == [], adapters
        django.setup()
        import authzguard
        names = sorted(n for n in authzguard.__all__ if n != "__version__")
        for name in names:
            assert callable(getattr(authzguard, name)), name
        print(" ".join(names))
        """
    result = run(code, tmp_path, settings)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == sorted(PUBLIC)


def test_the_policy_core_loads_no_django_module(tmp_path: Path) -> None:
    code = """\
        import sys
        import authzguard.policy
        loaded = sorted(m for m in sys.modules if m == "django" or m.startswith("django."))
        print(loaded)
        """
    result = run(code, tmp_path, "")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_is_the_one_its_module_defines(name: str) -> None:
    module = __import__(PUBLIC[name], fromlist=[name])
    assert getattr(authzguard, name) is getattr(module, name)
    assert name in authzguard.__all__
    assert name in dir(authzguard)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'enforce'"):
        authzguard.enforce
    assert "__version__" in authzguard.__all__
