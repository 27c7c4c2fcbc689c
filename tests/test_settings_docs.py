"""docs/settings.md and authzguard.conf stay in step: every setting, its type and default."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from authzguard.conf import Settings, settings

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "settings.md").read_text()
ENTRY = re.compile(r"^`(AUTHZGUARD_[A-Z_]+): ([^=`]+) = (.+)`$", re.MULTILINE)
PROPERTIES = [name for name, value in vars(Settings).items() if isinstance(value, property)]


def documented() -> dict[str, tuple[str, object]]:
    return {
        m.group(1): (m.group(2).strip(), ast.literal_eval(m.group(3))) for m in ENTRY.finditer(DOC)
    }


def test_every_setting_is_documented_once_and_nothing_else() -> None:
    names = [m.group(1) for m in ENTRY.finditer(DOC)]
    assert len(names) == len(set(names))
    assert set(names) == {f"AUTHZGUARD_{p}" for p in PROPERTIES}


@pytest.mark.parametrize("prop", PROPERTIES)
def test_documented_default_is_the_real_default(prop: str) -> None:
    _, default = documented()[f"AUTHZGUARD_{prop}"]
    with override_settings():
        # tests/settings.py sets some of these: measure the library's own default.
        if hasattr(django_settings, f"AUTHZGUARD_{prop}"):
            delattr(django_settings, f"AUTHZGUARD_{prop}")
        actual = getattr(settings, prop)
    if isinstance(actual, tuple):
        actual = list(actual)
    assert actual == default


@pytest.mark.parametrize("prop", PROPERTIES)
def test_each_setting_is_read_when_used(prop: str) -> None:
    """Overriding a setting changes what the property returns (nothing read at import)."""
    kind, default = documented()[f"AUTHZGUARD_{prop}"]
    new: object
    if kind == "bool":
        new = not default
    elif kind == "int":
        new = int(default) + 7  # type: ignore[call-overload]
    elif kind == "float":
        new = float(default) + 7  # type: ignore[arg-type]
    elif kind.startswith("list"):
        new = ["PUT"] if prop == "STATE_CHANGING_METHODS" else ["x.yaml"]
    else:
        new = "casbin" if prop == "ENGINE" else "X-Trace-ID"
    with override_settings(**{f"AUTHZGUARD_{prop}": new}):
        value = getattr(settings, prop)
        assert (list(value) if isinstance(value, tuple) else value) == new
