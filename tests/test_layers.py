"""The package's layering, as STYLE.md describes it, checked on the source itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "authzguard"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_enforcer_imports_casbin() -> None:
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name == "casbin" or name.startswith("casbin.") for name in imported_modules(path))
    }
    assert importers == {"enforcer.py"}


def test_the_policy_core_is_pure() -> None:
    for path in (PACKAGE / "policy").rglob("*.py"):
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top not in {"django", "casbin", "rest_framework"}, f"{path.name} imports {name}"
            assert not name.startswith("authzguard.") or name.startswith(
                ("authzguard.policy", "authzguard.exceptions")
            ), f"{path.name} imports {name} (the core only calls downward)"


def test_the_policy_core_imports_without_django_settings() -> None:
    code = (
        "import sys, authzguard.policy, authzguard.cli;"
        "assert 'django.conf' not in sys.modules or not __import__('django.conf').conf.settings.configured"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PATH": ""}, cwd=PACKAGE.parent)


def test_importing_the_policy_core_loads_no_django_module() -> None:
    code = (
        "import sys, authzguard.policy, authzguard.policy.explain\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'casbin'))\n"
        "print(' '.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": ""},
        cwd=PACKAGE.parent,
    )
    assert result.stdout.strip() == ""


def test_py_typed_is_shipped() -> None:
    assert (PACKAGE / "py.typed").exists()
