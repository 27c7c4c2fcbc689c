"""``authzguard lint --format github|sarif``: findings as code-scanning annotations.

``github`` prints GitHub Actions workflow commands (``::error file=...::message``), which
annotate the pull request's diff; ``sarif`` prints a SARIF 2.1.0 log, which GitHub code
scanning (``github/codeql-action/upload-sarif``) and other tools read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath

from authzguard import __version__
from authzguard.policy.findings import CODES, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        title = f"{f.code} {CODES.get(f.code, '')}".strip()
        props = ",".join(
            f"{key}={_escape_property(str(value))}"
            for key, value in (
                ("file", f.file),
                ("line", max(f.line, 1)),
                ("col", max(f.column, 1)),
                ("title", title),
            )
        )
        lines.append(f"::{f.severity} {props}::{_escape_data(f.message)}")
    return "\n".join(lines)


def sarif(findings: Sequence[Finding]) -> str:
    used = sorted({f.code for f in findings})
    rules = [
        {
            "id": code,
            "name": CODES.get(code, code),
            "shortDescription": {"text": CODES.get(code, code)},
        }
        for code in used
    ]
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": used.index(f.code),
            "level": f.severity,
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": PurePath(f.file).as_posix()},
                        "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)},
                    }
                }
            ],
        }
        for f in findings
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "authzguard",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)
