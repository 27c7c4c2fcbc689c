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


# -- reading plain documents straight from libyaml's events ------------------------------

ROOT = Path(__file__).resolve().parent.parent
REPO_YAML = sorted(
    [
        *ROOT.glob("policies/*.yaml"),
        *ROOT.glob("tests/policies/*.yaml"),
        *ROOT.glob("tests/enforcement_policies/*.yaml"),
        *ROOT.glob("tests/fixtures/bad/*.yaml"),
    ]
)
# latin1.yaml is refused as bytes, before any YAML is read.
REPO_YAML = [p for p in REPO_YAML if p.name != "latin1.yaml"]
needs_libyaml = pytest.mark.skipif(
    not hasattr(yaml, "CSafeLoader"), reason="PyYAML was built without libyaml"
)


@needs_libyaml
@pytest.mark.parametrize("path", REPO_YAML, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_event_path_builds_the_general_paths_tree_or_declines(path: Path) -> None:
    text = path.read_text("utf-8")
    try:
        fast = source._compose_plain(text, "f.yaml", source.DEFAULT_MAX_NODES)
    except source.TooDeep:
        with pytest.raises(source.TooDeep):
            source._compose_general(text, "f.yaml", source.DEFAULT_MAX_NODES)
        return
    general, findings = source._compose_general(text, "f.yaml", source.DEFAULT_MAX_NODES)
    if fast is not None:
        assert findings == []
        assert fast == general
    else:
        # Declined: only where the general path has something to say or refuse.
        assert findings or general is None or "&" in text or "!" in text


def test_every_clean_policy_in_the_repository_takes_the_event_path() -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML was built without libyaml")
    clean = [p for p in REPO_YAML if "fixtures" not in p.parts]
    for path in clean:
        text = path.read_text("utf-8")
        assert source._compose_plain(text, "f", source.DEFAULT_MAX_NODES) is not None, path


DECLINED = {
    "anchor and alias": "a: &x {b: 1}\nc: *x\n",
    "explicit tag": "a: !!str 1\n",
    "local tag": "a: !thing 1\n",
    "tagged mapping": "a: !!map {b: 1}\n",
    "merge key": "a: {b: 1}\nc:\n  <<: {d: 2}\n",
    "duplicate key": "a: 1\na: 2\n",
    "mapping as key": "? {a: 1}\n: 2\n",
    "list as key": "? [a]\n: 2\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "empty": "",
    "only a comment": "# nothing\n",
    "syntax error": "a: [1, 2\n",
    "tab indentation": "a:\n\tb: 1\n",
    "yaml directive": "%YAML 1.1\n---\na: 1\n",
}


@needs_libyaml
@pytest.mark.parametrize("text", DECLINED.values(), ids=DECLINED.keys())
def test_anything_unusual_goes_the_general_way(text: str) -> None:
    assert source._compose_plain(text, "f", source.DEFAULT_MAX_NODES) is None


@needs_libyaml
def test_the_node_budget_is_the_general_paths() -> None:
    text = "a: [1, 2, 3]\nb: {c: d}\n"  # 10 nodes, the root mapping included
    general, _ = source._compose_general(text, "f", 10)
    assert general is not None
    assert source._compose_plain(text, "f", 10) == general
    assert source._compose_plain(text, "f", 9) is None
    assert source._compose_general(text, "f", 9)[1][0].code == "AZ006"


@needs_libyaml
@pytest.mark.parametrize("seed", range(40))
def test_generated_policies_read_the_same_either_way(seed: int) -> None:
    import random

    from tests.policy_gen import RandomDraw, generate_policy

    generated = generate_policy(RandomDraw(random.Random(seed)))
    for text in generated.files.values() or [generated.text]:
        fast = source._compose_plain(text, "f", source.DEFAULT_MAX_NODES)
        general, findings = source._compose_general(text, "f", source.DEFAULT_MAX_NODES)
        assert fast is not None and findings == []
        assert fast == general


@needs_libyaml
@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        # The 64th "[" would be the 65th level (the top mapping is the first).
        ("a: " + "[" * 500 + "]" * 500 + "\n", 1, 67),
        # Past libyaml's own limit its scanner stops first, at its 1,001st level.
        ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", 1, 1003),
        # Unusual documents are read to the end for their nesting (then declined).
        ("a: &x 1\nb: " + "{k: " * 500 + "v" + "}" * 500 + "\n", 2, 256),
        ("x: {a: 1, a: 2}\nb: " + "[" * 500 + "]" * 500 + "\n", 2, 67),
        ("a: 1\n---\nb: " + "[" * 500 + "]" * 500 + "\n", 3, 67),
    ],
    ids=[
        "plain",
        "past-libyamls-limit",
        "after-an-anchor",
        "after-a-repeated-key",
        "second-document",
    ],
)
def test_deep_nesting_is_refused_before_any_composer_meets_it(
    text: str, line: int, column: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def general(*args: object) -> None:
        raise AssertionError("the general path read a document nested too deep")

    monkeypatch.setattr(source, "_compose_general", general)
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


def test_the_general_path_refuses_deep_nesting_too() -> None:
    """Without libyaml (or for a file only the general path reads) the converter counts."""
    text = "a: " + "[" * 70 + "]" * 70 + "\n"
    with pytest.raises(source.TooDeep):
        source._compose_general(text, "deep.yaml", source.DEFAULT_MAX_NODES)
    ok = "a: " + "[" * 60 + "]" * 60 + "\n"
    assert source._compose_general(ok, "ok.yaml", source.DEFAULT_MAX_NODES)[0] is not None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "AZ007"),  # no document: declined before any draining
        ("# only a comment\n", "AZ007"),
        ("%YAML 1.1\n---\na: 1\n", None),  # a directive: drained, then the general path
        ("a: &x [1]\nb: *x\n", None),  # an anchor: drained to the end
    ],
    ids=["empty", "comment-only", "directive", "alias"],
)
def test_the_event_path_ends_with_the_stream(text: str, code: str | None) -> None:
    assert source._compose_plain(text, "f.yaml", source.DEFAULT_MAX_NODES) is None
    tree, findings = parse_yaml(text, "f.yaml")
    if code is None:
        assert tree is not None and findings == []
    else:
        assert tree is None and [f.code for f in findings] == [code]
