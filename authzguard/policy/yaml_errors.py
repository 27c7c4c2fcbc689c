"""YAML syntax errors in words: PyYAML's problem, where its context opened, and a hint.

PyYAML (and libyaml) report where they gave up (``problem_mark``) and, for an unclosed
bracket or quote, where it opened (``context_mark``): the line to fix is usually the
second. Both are public attributes of ``yaml.MarkedYAMLError``.
"""

from __future__ import annotations

import yaml

#: (words in PyYAML's or libyaml's context, words in the problem, the hint).
_HINTS: tuple[tuple[str, str, str], ...] = (
    ("flow sequence", "", "a list opened with '[' is not closed: add the missing ']' or a comma"),
    ("flow mapping", "", "a mapping opened with '{' is not closed: add the missing '}' or a comma"),
    (
        "quoted scalar",
        "end of stream",
        "a quoted string has no closing quote: close it on the same line",
    ),
    ("flow node", "", "a list or mapping is not closed, or holds an empty item"),
    ("", "mapping values are not allowed", "a ': ' inside a value: quote the value"),
    ("next token", "cannot start any token", "a tab or a reserved character: indent with spaces"),
    (
        "block mapping",
        "",
        "the keys of one mapping are not indented equally: line them up with its first key",
    ),
    ("simple key", "expected ':'", "a line without 'key: value': add the ':' or join the lines"),
)


def describe(exc: yaml.MarkedYAMLError) -> str:
    """``YAML syntax error: <problem> (<context> at line L, column C): <hint>``."""
    problem = exc.problem or exc.context or "invalid YAML"
    context = exc.context or ""
    words = f"YAML syntax error: {problem}"
    mark = exc.context_mark
    if exc.problem and context:
        if mark is not None and (exc.problem_mark is None or _at(mark) != _at(exc.problem_mark)):
            line, column = _at(mark)
            words += f" ({context} at line {line}, column {column})"
        else:
            words += f" ({context})"
    for in_context, in_problem, hint in _HINTS:
        if in_context in context and in_problem in problem:
            return f"{words}: {hint}"
    return words


def _at(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1
