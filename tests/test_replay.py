"""Audit records with facts and typed attributes, replayed under a candidate policy
(issue 13 item 8): real requests write the log, ``authzguard replay`` reads it."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from authzguard.cli import main
from authzguard.policy.typed import UntypedValue, decode, encode

POLICY = Path(__file__).resolve().parent / "policies" / "enforcement.yaml"


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _write_log(caplog: pytest.LogCaptureFixture, path: Path) -> list[dict[str, Any]]:
    lines = [r.getMessage() for r in caplog.records if r.name == "authzguard.audit"]
    path.write_text("\n".join(lines) + "\n")
    return [json.loads(line) for line in lines]


def _candidate(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = POLICY.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.fixture
def audit_log(
    tmp_path: Path, alice: User, bob: User, carol: User, caplog: pytest.LogCaptureFixture
) -> tuple[Path, list[dict[str, Any]]]:
    """alice reads bob (deny) and herself (allow), carol (group support) reads bob (allow)."""
    with (
        override_settings(AUTHZGUARD_AUDIT_ATTRIBUTES=True),
        caplog.at_level(logging.INFO, logger="authzguard.audit"),
    ):
        assert _signed_in(alice).get(f"/users/{bob.pk}/").status_code == 403
        assert _signed_in(alice).get(f"/users/{alice.pk}/").status_code == 200
        assert _signed_in(carol).get(f"/users/{bob.pk}/").status_code == 200
    path = tmp_path / "audit.jsonl"
    return path, _write_log(caplog, path)


def test_records_carry_facts_with_groups_and_typed_attributes(
    audit_log: tuple[Path, list[dict[str, Any]]], bob: User, carol: User
) -> None:
    _, records = audit_log
    carols = records[2]
    assert carols["facts"]["groups"] == ["support"]
    assert carols["facts"]["id"] == carol.pk and carols["facts"]["username"] == "carol"
    assert carols["attributes"] == {"id": {"type": "int", "value": bob.pk}}


def test_replay_under_the_same_policy_flips_nothing(
    audit_log: tuple[Path, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = audit_log
    assert main(["replay", str(path), "--policy", str(POLICY), "--fail-on", "flip"]) == 0
    assert "3 decisions replayed: 0 would flip, 0 unknown" in capsys.readouterr().out


def test_replay_lists_every_decision_that_would_flip(
    audit_log: tuple[Path, list[dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = audit_log
    # The candidate drops what lets support read any account, and lets everyone read all.
    candidate = _candidate(
        tmp_path,
        "candidate.yaml",
        "    when: resource.id == subject.id\n    description: Everyone may look",
        "    description: Everyone may look",
    )
    code = main(
        ["replay", str(path), "--policy", str(candidate), "--format", "json", "--fail-on", "flip"]
    )
    assert code == 1
    doc = json.loads(capsys.readouterr().out)
    [flip] = doc["flips"]
    assert (flip["line"], flip["before"], flip["after"], flip["rule"]) == (
        1,
        "deny",
        "allow",
        "read-self",
    )
    assert flip["subject"]["username"] == "alice" and doc["unknown"] == []


def test_a_record_lacking_what_the_candidate_reads_is_unknown(
    audit_log: tuple[Path, list[dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = audit_log
    candidate = _candidate(
        tmp_path,
        "reads-email.yaml",
        "      id: {type: key, field: pk}\n  note:",
        "      id: {type: key, field: pk}\n      email: {type: str, field: email}\n  note:",
    )
    candidate.write_text(
        candidate.read_text().replace(
            "    when: resource.id == subject.id\n",
            '    when: resource.id == subject.id or resource.email == "x@example.com"\n',
            1,
        )
    )
    assert main(["replay", str(path), "--policy", str(candidate), "--fail-on", "flip"]) == 1
    out = capsys.readouterr().out
    assert "unknown: the candidate reads resource.email, which the record lacks" in out
    # carol too: an allow stands only if every applicable condition evaluates.
    assert "0 decisions replayed: 0 would flip, 3 unknown" in out


def test_records_without_attributes_are_unknown_never_guessed(
    tmp_path: Path,
    alice: User,
    bob: User,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with caplog.at_level(logging.INFO, logger="authzguard.audit"):
        assert _signed_in(alice).get(f"/users/{bob.pk}/").status_code == 403
    path = tmp_path / "plain.jsonl"
    [record] = _write_log(caplog, path)
    assert "facts" not in record and "attributes" not in record
    with path.open("a") as handle:
        handle.write("not json\n")
    assert main(["replay", str(path), "--policy", str(POLICY)]) == 0
    out = capsys.readouterr().out
    assert "AUTHZGUARD_AUDIT_ATTRIBUTES" in out and "not a JSON audit record" in out


def test_typed_values_read_back_as_written() -> None:
    for value in (7, "7", True, None, [1, "a"], 1.5):
        assert decode(encode(value)) == value
        assert type(decode(encode(value))) is type(value)
    with pytest.raises(UntypedValue):
        decode(encode(object()))
    with pytest.raises(UntypedValue):
        decode({"type": "int", "value": "7"})
