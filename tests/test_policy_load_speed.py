"""The shortcuts that make loading a large policy fast change nothing a user can see.

Timing itself lives in ``bench/`` (``make bench``); these tests pin the behaviour.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
import yaml

from authzguard.exceptions import ConditionError, PolicyError
from authzguard.policy import compile_policy, conditions, load_policy, source
from authzguard.policy.allocation import collector_paused
from authzguard.policy.source import parse_yaml

POLICY = """\
version: 1
roles:
  editor: {}
resources:
  doc:
    actions: {read: {}, update: {}}
    attributes:
      owner: {type: key}
      status: {type: str}
rules:
  - id: own-read
    effect: allow
    subjects: [authenticated]
    actions: [read]
    resource: doc
    when: resource.owner == subject.id
  - id: own-update
    effect: allow
    subjects: [editor]
    actions: [update]
    resource: doc
    when: resource.owner == subject.id
  - id: locked
    effect: deny
    subjects: ["*"]
    actions: [update]
    resource: doc
    when: resource.status == 'locked'
"""


@pytest.fixture
def gc_state():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_collector_is_paused_inside_and_restored_after(gc_state) -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "an inner pause must not end the outer one"
    assert gc.isenabled()


def test_collector_disabled_by_the_application_stays_disabled(gc_state) -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_collector_is_restored_when_the_build_fails(gc_state, tmp_path: Path) -> None:
    gc.enable()
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules: [1, 2\n")
    with pytest.raises(PolicyError):
        load_policy([bad])
    assert gc.isenabled()


def test_overlapping_pauses_from_threads_restore_the_collector_once(gc_state) -> None:
    gc.enable()
    inside = threading.Barrier(2)
    leave = threading.Event()

    def hold() -> None:
        with collector_paused():
            inside.wait()
            leave.wait()

    worker = threading.Thread(target=hold)
    worker.start()
    with collector_paused():
        inside.wait()
    # This thread's pause is over, the worker's is not: still paused.
    assert not gc.isenabled()
    leave.set()
    worker.join()
    assert gc.isenabled()


def test_loading_leaves_the_collector_as_it_found_it(gc_state, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    gc.enable()
    compile_policy(load_policy([path]))
    assert gc.isenabled()
    gc.disable()
    compile_policy(load_policy([path]))
    assert not gc.isenabled()


def test_rules_with_the_same_condition_text_share_one_tree(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY)
    policy = load_policy([path])
    own_read, own_update, locked = policy.rules
    assert own_read.when is not None and own_update.when is not None
    assert locked.when is not None
    assert own_read.when.tree is own_update.when.tree
    assert own_read.when.tree == conditions.parse("resource.owner == subject.id")
    assert locked.when.tree != own_read.when.tree
    # Positions stay each rule's own: only the (position-free) tree is shared.
    assert own_read.when.position.line != own_update.when.position.line


def test_a_bad_condition_fails_every_time_it_is_parsed() -> None:
    for _ in range(3):
        with pytest.raises(ConditionError) as excinfo:
            conditions.parse("resource.owner == ")
        assert excinfo.value.column == len("resource.owner == ")


SCALARS = [
    "text",
    "'quoted'",
    '"double"',
    "no",
    "yes",
    "on",
    "off",
    "true",
    "False",
    "~",
    "null",
    "",
    "010",
    "0x1f",
    "1_000",
    "1:20",
    "1.5",
    ".inf",
    "2026-11-22",
    "<<",
    "=",
    "12",
    "0",
    "'no'",
    "!!str 7",
]


@pytest.mark.parametrize("text", SCALARS)
def test_remembered_tags_match_the_safe_loader(text: str) -> None:
    """Each scalar is resolved twice (the second from memory): both times as PyYAML does."""
    document = f"a: {text}\nb: {text}\nc: [{text or 'x'}]\n"
    expected = yaml.compose(document, Loader=yaml.SafeLoader)
    for _ in range(2):
        tree, findings = parse_yaml(document, "t.yaml")
        assert tree is not None, findings
        got = [(k.text, v.tag) for k, v in tree.items[:2]]  # type: ignore[attr-defined]
        want = [(k.value, v.tag) for k, v in expected.value[:2]]
        assert got == want


# -- deep nesting ----------------------------------------------------------------------

needs_libyaml = pytest.mark.skipif(
    not hasattr(yaml, "CSafeLoader"), reason="PyYAML was built without libyaml"
)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        # The 64th "[" would be the 65th level (the top mapping is the first).
        ("a: " + "[" * 500 + "]" * 500 + "\n", 1, 67),
        ("a: &x 1\nb: " + "{k: " * 500 + "v" + "}" * 500 + "\n", 2, 256),
        ("x: {a: 1, a: 2}\nb: " + "[" * 500 + "]" * 500 + "\n", 2, 67),
        ("a: 1\nb: " + "[" * 70 + "]" * 70 + "\n", 2, 67),
    ],
    ids=["plain", "after-an-anchor", "after-a-repeated-key", "just-past-the-limit"],
)
def test_deep_nesting_is_refused_where_it_passes_the_limit(
    text: str, line: int, column: int
) -> None:
    tree, findings = parse_yaml(text, "deep.yaml")
    assert tree is None
    assert [(f.line, f.column, f.code, f.message) for f in findings] == [
        (
            line,
            column,
            "AZ008",
            f"document nests lists and mappings deeper than {source.MAX_DEPTH} levels",
        )
    ]


@needs_libyaml
@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "a: " + "[" * 100_000 + "\n",  # and a syntax error after it
    ],
    ids=["balanced", "unclosed"],
)
def test_nesting_past_libyamls_own_limit_is_refused_at_its_mark(text: str) -> None:
    tree, findings = parse_yaml(text, "deep.yaml")
    assert tree is None
    [finding] = findings
    assert finding.code == "AZ008"
    # libyaml's scanner stops at its 1,001st level.
    assert finding.column > 1_000


def test_nesting_within_the_limit_is_read() -> None:
    ok = "a: " + "[" * 63 + "]" * 63 + "\n"
    tree, findings = parse_yaml(ok, "ok.yaml")
    assert tree is not None and findings == []


def test_without_libyaml_nesting_is_checked_before_the_recursive_composer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(source, "_LOADER", yaml.SafeLoader)
    text = "a: " + "[" * 5_000 + "]" * 5_000 + "\n"
    tree, findings = parse_yaml(text, "deep.yaml")
    assert tree is None
    assert [(f.line, f.column, f.code) for f in findings] == [(1, 67, "AZ008")]
    tree, findings = parse_yaml("a: [1, {b: c}]\n", "ok.yaml")
    assert tree is not None and findings == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "AZ007"),
        ("# only a comment\n", "AZ007"),
        ("%YAML 1.1\n---\na: 1\n", None),
        ("a: &x [1]\nb: *x\n", None),
        ("a: 1\n---\nb: 2\n", "AZ003"),
        # A second document is refused as one, however deep it nests.
        ("a: 1\n---\nb: " + "[" * 500 + "]" * 500 + "\n", "AZ003"),
    ],
    ids=["empty", "comment-only", "directive", "alias", "two-documents", "deep-second"],
)
def test_documents_that_are_not_plain(text: str, code: str | None) -> None:
    tree, findings = parse_yaml(text, "f.yaml")
    if code is None:
        assert tree is not None and findings == []
    else:
        assert tree is None and [f.code for f in findings] == [code]


def test_nothing_in_the_package_touches_pyyaml_internals() -> None:
    package = Path(__file__).resolve().parent.parent / "authzguard"
    for path in package.rglob("*.py"):
        text = path.read_text("utf-8")
        for internal in (
            "yaml.events",
            "yaml.scanner",
            "yaml.parser",
            "yaml.composer",
            ".get_event",
        ):
            assert internal not in text, f"{path}: {internal}"
