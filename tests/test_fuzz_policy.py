"""Fuzzing the YAML loader and ``decide``.

- the loader, given random YAML documents and mutations of the real policy files
  (policies/, tests/policies, tests/fixtures), either accepts a document or refuses it
  with findings (``PolicyError``): never another exception, and always within the
  bound of tests/test_policy_worst_cases.py (a ratio to a bare ``yaml.load`` of the
  same text, measured in the same example);
- ``decide``, given random subjects and resources, wrong types included, never raises,
  on both engines.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from authzguard.enforcer import with_casbin
from authzguard.exceptions import PolicyError
from authzguard.policy import CompiledPolicy, compile_policy, load_policy
from authzguard.policy.model import Decision, Resource, Subject
from tests.test_policy_worst_cases import assert_bounded

pytestmark = pytest.mark.property

FUZZ_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=False,
)

ROOT = Path(__file__).resolve().parent.parent
REAL_FILES = sorted(
    [
        *ROOT.glob("policies/*.yaml"),
        *(ROOT / "tests").glob("*policies/*.yaml"),
        *(ROOT / "tests" / "fixtures").rglob("*.yaml"),
    ]
)


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # the loader's own tests cover files that are not UTF-8
        return None


#: The texts mutated: every real file that is UTF-8.
REAL_TEXTS = [text for text in map(_text, REAL_FILES) if text is not None]
#: The policies ``decide`` is fuzzed against: every real file that loads.
LOADABLE = [p for p in REAL_FILES if not p.name.endswith("_test.yaml") and "bad" not in p.parts]

# -- the loader ---------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "version",
        "roles",
        "resources",
        "rules",
        "routes",
        "id",
        "effect",
        "subjects",
        "actions",
        "resource",
        "when",
        "inherits",
        "granted_to",
        "model",
        "attributes",
        "field",
        "type",
        "description",
        "allow",
        "deny",
        "*",
        "<<",
        "&a",
        "!!python/object",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    KEYS,
    st.sampled_from(["resource.owner == subject.id", "subject.id in resource.members", "(("]),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(KEYS, st.text(max_size=10)), inner, max_size=5)
    ),
    max_leaves=40,
)
ODD_TEXT = st.sampled_from(
    [
        "\x00",
        "\ufeff",
        "\t",
        "\r",
        "\u2028",
        "&x ",
        "*x",
        "!!binary ",
        "? ",
        "- ",
        ": ",
        "{",
        "]",
        "'",
        '"',
        "#",
        "%YAML 1.1\n---\n",
        "...\n",
        "<<: *x\n",
        "\\",
        "é",
        "\U0001f600",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real policy file with a few lines dropped, repeated, moved, cut or spliced into."""
    text = draw(st.sampled_from(REAL_TEXTS))
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "repeat", "move", "cut", "splice", "indent", "dedent"]))
        if how == "drop":
            del lines[i]
        elif how == "repeat":
            lines.insert(i, lines[i])
        elif how == "move":
            lines.insert(draw(st.integers(0, len(lines) - 1)), lines.pop(i))
        elif how == "cut":
            lines = [*lines[:i], lines[i][: draw(st.integers(0, len(lines[i])))]]
        elif how == "splice":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = (
                lines[i][:at] + draw(st.one_of(ODD_TEXT, st.text(max_size=8))) + lines[i][at:]
            )
        elif how == "indent":
            lines[i] = "  " + lines[i]
        else:
            lines[i] = lines[i].lstrip()
    return "".join(lines)


def random_document(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True)


def loads_or_refuses(text: str, directory: Path, name: str) -> None:
    """``load_policy`` returns or raises ``PolicyError`` with findings; nothing else."""
    path = directory / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    findings = []
    try:
        compile_policy(load_policy([path]))
    except PolicyError as exc:
        findings = list(exc.findings)
        if not findings:
            raise AssertionError("a PolicyError without findings") from exc
    assert all(f.message and f.line >= 1 for f in findings)


@FUZZ_SETTINGS
@given(text=st.one_of(mutated(), DOCUMENTS.map(random_document)))
def test_the_loader_accepts_or_refuses_with_findings_within_its_bound(
    text: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    note(text[:3000])
    try:
        yaml.load(text, Loader=yaml.CSafeLoader)
        measurable = True
    except yaml.YAMLError:
        measurable = False  # no bare load to measure against: still refused with findings
    except ValueError:
        assume(False)  # characters PyYAML's C reader cannot even take (lone surrogates)
    directory = tmp_path_factory.mktemp("fuzz")
    loads_or_refuses(text, directory, "policy.yaml")
    if measurable:
        assert_bounded(text, directory)


# -- decide -------------------------------------------------------------------------------

ANYTHING = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=20),
        st.binary(max_size=8),
        st.just(math.inf),
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        | st.frozensets(st.one_of(st.text(max_size=5), st.integers()), max_size=3)
        | st.tuples(inner, inner)
    ),
    max_leaves=10,
)


def _compiled() -> list[CompiledPolicy]:
    compiled = [compile_policy(load_policy([path])) for path in LOADABLE if _loads(path)]
    return compiled + [with_casbin(policy) for policy in compiled]


def _loads(path: Path) -> bool:
    try:
        load_policy([path])
    except PolicyError:
        return False
    return True


@pytest.fixture(scope="module")
def policies() -> list[CompiledPolicy]:
    found = _compiled()
    assert len(found) >= 4, "the real policies should load"
    return found


@st.composite
def questions(draw: st.DrawFn, policy: CompiledPolicy) -> tuple[Subject, str, Resource]:
    kinds = sorted(policy.policy.resources) or ["doc"]
    kind = draw(st.one_of(st.sampled_from(kinds), st.text(max_size=10)))
    known = policy.policy.resources.get(kind)
    actions = (sorted(known.actions) if known is not None else []) or ["read"]
    names = (sorted(known.attributes) if known is not None else []) or ["owner"]
    roles = [*sorted(policy.policy.roles), "authenticated", "anonymous", "*"]
    subject = Subject(
        id=draw(ANYTHING),
        username=draw(st.one_of(st.none(), st.text(max_size=10), ANYTHING)),
        email=draw(st.one_of(st.none(), st.text(max_size=20), ANYTHING)),
        roles=frozenset(
            draw(st.lists(st.one_of(st.sampled_from(roles), st.text(max_size=6)), max_size=4))
        ),
        authenticated=draw(st.one_of(st.booleans(), ANYTHING)),
    )
    attributes = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(names), st.text(max_size=6)), ANYTHING, max_size=4
        )
    )
    action = draw(st.one_of(st.sampled_from(actions), st.text(max_size=8)))
    return subject, action, Resource(kind, attributes)


@FUZZ_SETTINGS
@given(data=st.data())
def test_decide_never_raises(policies: list[CompiledPolicy], data: st.DataObject) -> None:
    policy = data.draw(st.sampled_from(policies))
    subject, action, resource = data.draw(questions(policy))
    decision = policy.decide(subject, action, resource)
    assert isinstance(decision, Decision)
    if resource.kind not in policy.policy.resources:
        assert not decision.allowed
