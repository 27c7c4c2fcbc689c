"""Strict YAML reading: a tree of nodes that remember where they were written.

PyYAML's composer gives us nodes with marks and with the tag YAML 1.1 would resolve,
*before* any Python object is constructed. We keep every scalar as its raw text and
let the schema layer decide what a field may hold, which is how YAML 1.1 surprises
(``no`` read as false, ``010`` as 8, ``1:20`` as 80, ``~`` as null) become errors
instead of silent coercions. Nothing here constructs arbitrary objects: any tag
outside YAML's core scalar tags is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from authzguard.policy.findings import Finding
from authzguard.policy.yaml_errors import describe as describe_yaml_error

_CORE = "tag:yaml.org,2002:"
#: Tags the resolver may assign to plain scalars; anything else came from an explicit tag.
SCALAR_TAGS = frozenset(
    _CORE + name for name in ("str", "int", "float", "bool", "null", "timestamp", "value")
)
MERGE_TAG = _CORE + "merge"
MAP_TAG = _CORE + "map"
SEQ_TAG = _CORE + "seq"
STR_TAG = _CORE + "str"

#: libyaml's composer when PyYAML was built with it, else PyYAML's own.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


DEFAULT_MAX_BYTES = 1024 * 1024
#: Lists and mappings inside each other; a policy needs about six.
MAX_DEPTH = 64
#: Nodes visited while expanding aliases, by default (``None``): ``node_budget`` of the
#: file's size, which a file without aliases never reaches; a "billion laughs" does.
DEFAULT_MAX_NODES: int | None = None


def node_budget(size: int) -> int:
    """Nodes allowed for a document of ``size`` characters: without aliases every node
    takes at least one character, so this refuses alias expansion only."""
    return 2 * size + 1_000


# Not frozen: a frozen dataclass pays an object.__setattr__ per field, and a large policy
# has hundreds of thousands of nodes. Nothing mutates them after conversion.
@dataclass(slots=True)
class Node:
    file: str
    line: int
    column: int


@dataclass(slots=True)
class Scalar(Node):
    text: str
    #: The tag YAML 1.1 resolves this scalar to (``...:bool`` for a plain ``no``).
    tag: str
    #: True for an unquoted scalar: only those are subject to YAML 1.1 implicit typing.
    plain: bool

    @property
    def implicit_type(self) -> str:
        """What YAML 1.1 would make of this scalar: ``str``, ``bool``, ``int``, ``null``..."""
        if not self.plain:
            return "str"
        return self.tag.removeprefix(_CORE)


@dataclass(slots=True)
class Mapping(Node):
    items: tuple[tuple[Scalar, Node], ...] = field(default=())

    def get(self, key: str) -> Node | None:
        for k, v in self.items:
            if k.text == key:
                return v
        return None

    def __getitem__(self, key: str) -> Node:
        node = self.get(key)
        if node is None:
            raise KeyError(key)
        return node

    def keys(self) -> list[str]:
        return [k.text for k, _ in self.items]


@dataclass(slots=True)
class Sequence(Node):
    items: tuple[Node, ...] = field(default=())


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:python/name:os.system`` as written: ``!!python/name:os.system``."""
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def describe(node: Node) -> str:
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    assert isinstance(node, Scalar)
    return {"str": "a string", "null": "null"}.get(node.implicit_type, f"a {node.implicit_type}")


class _Converter:
    def __init__(self, file: str, max_nodes: int) -> None:
        self.file = file
        #: Nodes left to visit; aliases are visited once per use, so this bounds expansion.
        self.budget = max_nodes
        self.findings: list[Finding] = []
        self.exhausted = False
        #: Lists and mappings open around the node being converted.
        self.depth = 0

    def error(self, mark: yaml.Mark | None, code: str, message: str) -> None:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        self.findings.append(Finding(self.file, line, col, "error", code, message))

    # Runs once per node of the document: kept free of helper calls.
    def convert(self, node: yaml.Node) -> Node | None:
        if self.exhausted:
            return None
        self.budget -= 1
        if self.budget < 0:
            self.exhausted = True
            self.error(node.start_mark, "AZ006", "")  # worded by _compose_general
            return None
        tag = node.tag
        mark = node.start_mark
        if isinstance(node, yaml.ScalarNode):
            if tag not in SCALAR_TAGS and tag != MERGE_TAG:
                self.error(
                    mark,
                    "AZ004",
                    f"tag {short_tag(tag)} is not allowed in a policy (only plain YAML "
                    "scalars, lists and mappings)",
                )
                return None
            # Plain scalars have no style: None from PyYAML's composer, "" from libyaml's.
            return Scalar(
                self.file, mark.line + 1, mark.column + 1, node.value, tag, not node.style
            )
        if self.depth >= MAX_DEPTH:
            raise TooDeep.at(mark)
        self.depth += 1
        try:
            if isinstance(node, yaml.SequenceNode):
                if tag != SEQ_TAG:
                    self.error(mark, "AZ004", f"tag {short_tag(tag)} is not allowed in a policy")
                    return None
                convert = self.convert
                items = [item for child in node.value if (item := convert(child)) is not None]
                return Sequence(self.file, mark.line + 1, mark.column + 1, tuple(items))
            if isinstance(node, yaml.MappingNode):
                if tag != MAP_TAG:
                    self.error(mark, "AZ004", f"tag {short_tag(tag)} is not allowed in a policy")
                    return None
                return self._mapping(node, mark.line + 1, mark.column + 1)
        finally:
            self.depth -= 1
        self.error(mark, "AZ003", "unsupported YAML node")  # pragma: no cover
        return None

    def _mapping(self, node: yaml.MappingNode, line: int, col: int) -> Mapping:
        seen: dict[str, Scalar] = {}
        items: list[tuple[Scalar, Node]] = []
        convert = self.convert
        for key_node, value_node in node.value:
            key = convert(key_node)
            if key is None:
                continue
            if not isinstance(key, Scalar):
                self.error(key_node.start_mark, "AZ102", "mapping keys must be plain strings")
                continue
            if key.tag == MERGE_TAG:
                self.error(
                    key_node.start_mark,
                    "AZ004",
                    "merge keys (<<) are not supported in policies: write the keys out",
                )
                continue
            text = key.text
            if text in seen:
                first = seen[text]
                self.error(
                    key_node.start_mark,
                    "AZ005",
                    f"duplicate key {text!r} (first defined at line {first.line})",
                )
                continue
            seen[text] = key
            value = convert(value_node)
            if value is not None:
                items.append((key, value))
        return Mapping(self.file, line, col, tuple(items))


def read_bytes(path: Path, name: str, max_bytes: int) -> tuple[bytes | None, list[Finding]]:
    """A policy file's bytes, refusing an unreadable or oversized one before parsing."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        reason = f"cannot read policy file: {exc.strerror or exc}"
        return None, [Finding(name, 1, 1, "error", "AZ001", reason)]
    if len(raw) > max_bytes:
        reason = f"policy file is larger than the {max_bytes}-byte limit"
        return None, [Finding(name, 1, 1, "error", "AZ002", reason)]
    return raw, []


def parse_bytes(
    raw: bytes, name: str, *, max_nodes: int | None = DEFAULT_MAX_NODES
) -> tuple[Node | None, list[Finding]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"policy file is not valid UTF-8 (byte {exc.start})"
        return None, [Finding(name, 1, 1, "error", "AZ001", reason)]
    return parse_yaml(text, name, max_nodes=max_nodes)


class _Mark(Protocol):
    """A position from PyYAML or libyaml (their mark classes differ)."""

    line: int
    column: int


class TooDeep(Exception):
    """A document nests lists and mappings deeper than ``MAX_DEPTH``."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(line, column)
        self.line, self.column = line, column

    @classmethod
    def at(cls, mark: _Mark | None) -> TooDeep:
        """At a YAML mark (0-based), as a finding's 1-based line and column."""
        return cls(mark.line + 1, mark.column + 1) if mark is not None else cls(1, 1)


def _too_deep_error(exc: yaml.YAMLError) -> TooDeep | None:
    """libyaml's own nesting limit (about 1,000 levels, far past ``MAX_DEPTH``) as
    :class:`TooDeep` at the place it stopped."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem != _LIBYAML_TOO_DEEP:
        return None
    return TooDeep.at(exc.problem_mark)


_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"
_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(text: str) -> None:
    """Read the events for their nesting only: :class:`TooDeep` past ``MAX_DEPTH``.

    Needed before PyYAML's pure-Python composer, which recurses once per level; libyaml
    composes without recursion in Python and stops at its own limit.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, _OPENING):
            if depth >= MAX_DEPTH:
                raise TooDeep.at(event.start_mark)
            depth += 1
        elif isinstance(event, _CLOSING):
            depth -= 1


def parse_yaml(
    text: str, name: str, *, max_nodes: int | None = DEFAULT_MAX_NODES
) -> tuple[Node | None, list[Finding]]:
    """One YAML document as a node tree, or the findings that refuse it."""
    if max_nodes is None:
        max_nodes = node_budget(len(text))
    try:
        return _compose(text, name, max_nodes)
    except TooDeep as exc:
        reason = f"document nests lists and mappings deeper than {MAX_DEPTH} levels"
        return None, [Finding(name, exc.line, exc.column, "error", "AZ008", reason)]


def _compose(text: str, name: str, max_nodes: int) -> tuple[Node | None, list[Finding]]:
    """libyaml's (or PyYAML's) composer, then a checked conversion of its nodes."""
    try:
        if _LOADER is yaml.SafeLoader:
            _check_depth(text)
        composed = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        deep = _too_deep_error(exc)
        if deep is not None:
            raise deep from None
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "invalid YAML"
        code = "AZ004" if "tag" in reason and "!" in str(exc) else "AZ003"
        words = describe_yaml_error(exc) if code == "AZ003" else f"YAML syntax error: {reason}"
        return None, [Finding(name, line, col, "error", code, words)]
    except yaml.YAMLError as exc:
        return None, [Finding(name, 1, 1, "error", "AZ003", f"YAML syntax error: {exc}")]
    if composed is None:
        return None, [Finding(name, 1, 1, "error", "AZ007", "policy file is empty")]
    converter = _Converter(name, max_nodes)
    tree = converter.convert(composed)
    # A file with a forbidden tag or too many nodes is refused whole: checking the rest
    # of it would only add noise about the parts that were dropped.
    fatal = [
        _too_many_nodes(f, text, max_nodes) if f.code == "AZ006" else f
        for f in converter.findings
        if f.code in ("AZ004", "AZ006")
    ]
    if fatal:
        return None, fatal
    return tree, converter.findings


def _too_many_nodes(finding: Finding, text: str, max_nodes: int) -> Finding:
    """AZ006 in words that fit what happened: aliases expanding, or just a large file."""
    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=_LOADER)):
        reason = (
            "document expands to too many nodes (alias expansion is bounded); "
            "remove anchors/aliases"
        )
    else:
        reason = (
            f"document has more than {max_nodes} nodes, the limit for one file; "
            "split it into several files or raise the limit"
        )
    return Finding(finding.file, finding.line, finding.column, "error", "AZ006", reason)
