"""The README and the tutorial say what the code does: their examples are checked or run.

- The README's rule is the demo policy's rule, and its decorator is the demo view's.
- The YAML example of ``docs/index.md`` loads and lints clean.
- Section 3 of ``docs/tutorial.md`` (the attacks with curl) is run, command by command,
  against a live demo, and every output written in a ``# comment`` must match.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from authzguard.policy import lint_paths
from tests.browser.server import REPO_ROOT, DemoServer

README = REPO_ROOT / "README.md"
TUTORIAL = REPO_ROOT / "docs" / "tutorial.md"
INDEX = REPO_ROOT / "docs" / "index.md"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_readme_rule_is_the_demo_policys_rule() -> None:
    (rule_block,) = code_blocks(README.read_text(), "yaml")
    (readme_rule,) = yaml.safe_load(rule_block)
    policy = yaml.safe_load((REPO_ROOT / "policies" / "demo.yaml").read_text())
    demo_rule = next(rule for rule in policy["rules"] if rule["id"] == readme_rule["id"])
    assert {key: demo_rule[key] for key in readme_rule} == readme_rule


def test_readme_view_is_declared_like_the_demo_view() -> None:
    (view_block,) = code_blocks(README.read_text(), "python")
    views = (REPO_ROOT / "demo_site" / "demo_app" / "views.py").read_text()
    decorator = view_block.splitlines()[0]
    assert decorator.startswith("@authorize(")
    assert decorator in views.splitlines()
    assert "end_user_sessions(request," in views


def test_readme_is_exactly_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text
    assert "Each is the only command you need." in text


def test_overview_example_policy_lints_clean(tmp_path: Path) -> None:
    (policy_block,) = code_blocks(INDEX.read_text(), "yaml")
    path = tmp_path / "sessions.yaml"
    path.write_text(policy_block)
    policy, findings = lint_paths([path])
    assert policy is not None
    assert [finding.format() for finding in findings] == []


_EXPECTED = re.compile(r"\s+#\s+(?:still\s+)?(\{.*\}|\d{3})\s*$")


def tutorial_commands(bob_id: int) -> tuple[str, list[tuple[str, str | None]]]:
    """Section 3's helper definitions, and each command with the output it documents."""
    text = TUTORIAL.read_text()
    section = text[text.index("## 3.") : text.index("## 4.")]
    first, *rest = code_blocks(section, "sh")
    # The first block defines the helpers, then (after a blank line) starts using them.
    preamble, first_commands = first.split("\n\n", 1)
    rest.insert(0, first_commands)
    commands: list[tuple[str, str | None]] = []
    for block in rest:
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            stripped = line.strip()
            if stripped.startswith("# "):
                # An output documented on its own line belongs to the command before it.
                command, _ = commands.pop()
                commands.append((command, stripped[2:]))
                continue
            if not stripped:
                continue
            match = _EXPECTED.search(line)
            command = line[: match.start()] if match else line
            expected = match[1] if match else None
            for old, new in (("id=3", f"id={bob_id}"), ('"id": 3', f'"id": {bob_id}')):
                command = command.replace(old, new)
            if expected is not None:
                expected = expected.replace('"deleted": 3', f'"deleted": {bob_id}')
            commands.append((command.strip(), expected))
    return preamble, commands


def test_tutorial_attacks_with_curl_do_what_the_page_says(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    if shutil.which("curl") is None:
        if IN_CI:
            pytest.fail("curl is needed to run the tutorial's commands (CI=true)")
        pytest.skip("curl is not installed")
    ids = demo_server.seed()
    preamble, commands = tutorial_commands(ids["bob"])
    preamble = preamble.replace("http://127.0.0.1:8000", demo_server.base_url)
    assert len([c for c in commands if c[1] is not None]) >= 10, commands
    for command, expected in commands:
        result = subprocess.run(
            ["bash", "-c", f"set -u\n{preamble}\n{command}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        if expected is not None:
            pattern = ".*".join(re.escape(part) for part in expected.split("..."))
            assert re.fullmatch(pattern, result.stdout.strip()), (command, result.stdout)


def test_tutorial_explain_output_is_what_the_cli_prints() -> None:
    text = TUTORIAL.read_text()
    command = next(
        block.strip()
        for block in code_blocks(text, "sh")
        if block.startswith(".venv/bin/authzguard explain")
    )
    documented = text[text.index(command) :]
    (printed,) = code_blocks(documented, "text")[:1]
    arguments = command.split()[2:]
    result = subprocess.run(
        [sys.executable, "-m", "authzguard", "explain", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.startswith(printed), result.stdout + result.stderr
