"""Load policy files: read strictly, check the shape, merge, then check the meaning.

Every problem becomes a ``Finding`` with file, line and column; a run reports all of
them together. ``load_policy`` raises ``PolicyError`` when any finding is an error, so a
broken policy can never be half-loaded (and never fails open).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence as Seq
from pathlib import Path

from authzguard.exceptions import PolicyError
from authzguard.policy.allocation import collector_paused
from authzguard.policy.document import Document, DocumentReader
from authzguard.policy.findings import Finding
from authzguard.policy.model import Policy
from authzguard.policy.semantics import check_semantics, merge
from authzguard.policy.source import DEFAULT_MAX_BYTES, DEFAULT_MAX_NODES, parse_bytes, read_bytes


def is_policy_test_file(path: Path) -> bool:
    """``*_test.yaml``/``*_test.yml``: a suite for ``authzguard test``, never a policy."""
    return path.suffix in (".yaml", ".yml") and path.stem.endswith("_test")


def policy_files(paths: Seq[str | Path]) -> tuple[list[Path], list[Finding]]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, sorted by name.

    Policy test files (``*_test.yaml``) are skipped, and so is a ``tests/`` directory
    (only files directly in a directory are read); naming one as a policy is an error.
    """
    files: list[Path] = []
    findings: list[Finding] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.suffix in (".yaml", ".yml") and p.is_file() and not is_policy_test_file(p)
            )
            if not found:
                findings.append(
                    Finding(
                        str(path), 1, 1, "error", "AZ001", "directory holds no .yaml policy files"
                    )
                )
            files.extend(found)
        elif is_policy_test_file(path):
            reason = "a policy test file, not a policy (run it with `authzguard test`)"
            findings.append(Finding(str(path), 1, 1, "error", "AZ001", reason))
        elif path.exists():
            files.append(path)
        else:
            findings.append(
                Finding(str(path), 1, 1, "error", "AZ001", "no such policy file or directory")
            )
    return files, findings


def _read_document(
    path: Path, max_bytes: int, max_nodes: int | None
) -> tuple[Document | None, tuple[Finding, ...]]:
    name = str(path)
    raw, problems = read_bytes(path, name, max_bytes)
    if raw is None:
        return None, tuple(problems)
    return _checked_document(name, raw, max_nodes)


# A reload re-reads every file, but re-parses only those whose bytes changed: the bytes,
# not the mtime, are the key, so an edit is never missed. Documents are not changed after.
@functools.lru_cache(maxsize=64)
def _checked_document(
    name: str, raw: bytes, max_nodes: int | None
) -> tuple[Document | None, tuple[Finding, ...]]:
    tree, problems = parse_bytes(raw, name, max_nodes=max_nodes)
    doc = DocumentReader(problems).read(tree, name) if tree is not None else None
    return doc, tuple(problems)


def lint_paths(
    paths: Seq[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> tuple[Policy | None, list[Finding]]:
    """Read, merge and check; returns the policy (None if it has errors) and all findings."""
    files, findings = policy_files(paths)
    if not files and not findings:
        findings.append(Finding("<policy>", 1, 1, "error", "AZ001", "no policy files given"))
    docs: list[Document] = []
    with collector_paused():
        for path in files:
            doc, problems = _read_document(path, max_bytes, max_nodes)
            findings.extend(problems)
            if doc is not None:
                docs.append(doc)
        policy = merge(docs, findings)
        check_semantics(policy, findings)
    findings.sort(key=lambda f: f.sort_key)
    failed = any(f.severity == "error" for f in findings)
    findings = capped(findings)
    if failed:
        return None, findings
    return policy, findings


#: Findings reported per file; the rest are counted in one last finding.
MAX_FINDINGS_PER_FILE = 100


def capped(findings: list[Finding], limit: int = MAX_FINDINGS_PER_FILE) -> list[Finding]:
    """The first ``limit`` findings of each file (in order), then one that counts the rest."""
    out: list[Finding] = []
    rest: dict[str, list[Finding]] = {}
    shown: dict[str, int] = {}
    for finding in findings:
        count = shown.get(finding.file, 0)
        if count < limit:
            shown[finding.file] = count + 1
            out.append(finding)
        else:
            rest.setdefault(finding.file, []).append(finding)
    for file, dropped in rest.items():
        errors = sum(f.severity == "error" for f in dropped)
        first = dropped[0]
        out.append(
            Finding(
                file,
                first.line,
                first.column,
                "error" if errors else "warning",
                "AZ009",
                f"{len(dropped)} more findings from here on are not shown ({errors} errors); "
                f"fix the first {limit} and lint again",
            )
        )
    out.sort(key=lambda f: f.sort_key)
    return out


def load_policy(
    paths: Seq[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> Policy:
    """Load and check policy files; raise ``PolicyError`` with every finding on any error."""
    policy, findings = lint_paths(paths, max_bytes=max_bytes, max_nodes=max_nodes)
    if policy is None:
        raise PolicyError(findings)
    return policy
