"""``authzguard matrix``: the access matrix, and the committed ACCESS.md kept up to date."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from authzguard.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
FIXTURES = ROOT / "tests" / "fixtures" / "diff"


def test_the_committed_access_matrix_matches_the_demo_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Fails when policies/ changes without `authzguard matrix policies > ACCESS.md`."""
    assert main(["matrix", str(POLICIES), "--check", str(ROOT / "ACCESS.md")]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_fails_and_shows_the_diff_when_out_of_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = tmp_path / "ACCESS.md"
    committed.write_text((ROOT / "ACCESS.md").read_text())
    edited = FIXTURES / "widen_granted_to_authenticated.yaml"
    assert main(["matrix", str(edited), "--check", str(committed)]) == 1
    captured = capsys.readouterr()
    assert "-| authenticated | never | never |" in captured.out
    assert "+| authenticated | `not (resource.id == subject.id)` | always |" in captured.out
    assert "out of date" in captured.err


def test_cells_are_always_never_or_the_condition(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", str(POLICIES), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cells = {(c["principal"], c["kind"], c["action"]): c for c in doc["cells"]}
    assert cells[("anonymous", "user", "delete")]["access"] == "never"
    assert cells[("superuser", "user", "list")]["access"] == "always"
    superuser_delete = cells[("superuser", "user", "delete")]
    assert superuser_delete["access"] == "not (resource.id == subject.id)"
    assert superuser_delete["rules"] == ["admin-delete-user", "no-self-delete"]
    assert doc["principals"] == [
        "anonymous",
        "authenticated",
        "staff",
        "superuser",
        "staff+superuser",
    ]


def test_csv_has_one_row_per_cell(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", str(POLICIES), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 5 * 5  # principals x (kind, action) pairs
    assert {"principal": "staff", "kind": "session", "action": "end"}.items() <= rows[
        2 * 5 + 1
    ].items()


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.external += [v or "" for k, v in attrs if k in ("src", "href")]


def test_html_is_one_self_contained_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", str(POLICIES), "--format", "html"]) == 0
    page = capsys.readouterr().out
    parser = _Assets()
    parser.feed(page)
    assert parser.external == [] and "script" not in parser.tags and "link" not in parser.tags
    assert "<style>" in page and "not (resource.id == subject.id)" in page


def test_check_needs_a_format_when_the_name_says_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "ACCESS"
    target.write_text("")
    assert main(["matrix", str(POLICIES), "--check", str(target)]) == 2
    assert "--format" in capsys.readouterr().err
    assert main(["matrix", str(POLICIES), "--check", str(tmp_path / "missing.md")]) == 2
