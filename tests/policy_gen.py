"""Random valid policies and requests, shared by the property, equivalence and bench runs.

One generator, two sources of choices: ``RandomDraw`` (a seeded ``random.Random``, for
the equivalence test and ``bench/equivalence.py``) and ``HypothesisDraw`` (hypothesis'
``data.draw``, so failures shrink). Policies are built as plain data, dumped to YAML
text and loaded by authzguard from files; conditions are generated well-typed so that
every policy lints clean, while requests carry values of right and wrong types.
"""

from __future__ import annotations

import contextlib
import io
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

from tests.policy_reference import RefSubject, read_policy_data
from tests.policy_reference import decide as reference_decide

T = TypeVar("T")

ROLE_NAMES = ("admin", "support", "editor", "viewer", "ops-team", "r_2", "role", "g", "p")
GROUP_NAMES = ("support", "Admins", "ops team", "é-group", "a,b", "#1", "r.x")
SOURCES = ("superuser", "staff", "authenticated", "anonymous")
KIND_NAMES = ("doc", "user", "session", "my-kind", "a_b", "kind")
ACTION_NAMES = ("read", "view", "end", "delete", "publish", "edit", "list", "approve")
# Names that stress Casbin's text rewriting (``r.``/``p.``, ``eval(``) without being
# Python keywords or names simpleeval refuses (those are tracked by xfail tests).
ATTRIBUTE_NAMES = ("owner", "status", "tags", "n", "flag", "data", "p", "r", "eval", "x1", "none")
TYPES = ("str", "int", "bool", "key", "list", "any")
RULE_ID_PREFIXES = ("r", "rule-", "a.b:", "x_", "0")
# Pieces of string literals: every character Casbin's reader or rewriter treats specially.
STRING_PIECES = (
    ",", "!", "&", "|", "#", ".", '"', "'", "(", ")", "[", "]", "\\", " ", "r.", "p.",
    "&&", "||", "!=", "é", "ß", "日本", "😀", "\t", "\n", "a", "b", "x", "eval(", "r_obj",
    " and ", "True", "# ", "role:*", "\\x41", "%s", "{0}",
)  # fmt: skip
WRONG_TYPES = {
    "str": ("int", "bool", "list"),
    "int": ("str", "bool", "list"),
    "bool": ("str", "int", "list"),
    "key": ("bool", "list"),
    "list": ("str", "int", "bool"),
    "any": ("str", "int", "bool", "list"),
}
INTS = (0, 1, -1, 2, 7, 42, -1000000, 10**17, 999999999999999999)
# Without 0 and 1 a bool never equals an int, so Python's operators and a strict
# reading of the spec agree (see policy_reference).
INTS_NO_BOOL_COLLISION = (-1, 2, 7, 42, -1000000, 10**17, 999999999999999999)


class Draw(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...
    def choice(self, items: Sequence[T]) -> T: ...
    def chance(self, percent: int) -> bool: ...


class RandomDraw:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent


class HypothesisDraw:
    """Choices through ``data.draw``: every choice shrinks towards the first/smaller/False."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def integer(self, lo: int, hi: int) -> int:
        return int(self.data.draw(self.st.integers(lo, hi)))

    def choice(self, items: Sequence[T]) -> T:
        return items[self.integer(0, len(items) - 1)]

    def chance(self, percent: int) -> bool:
        return self.integer(0, 99) >= 100 - percent


def subset(draw: Draw, items: Sequence[T], lo: int, hi: int) -> list[T]:
    pool = list(items)
    out: list[T] = []
    for _ in range(min(draw.integer(lo, hi), len(pool))):
        out.append(pool.pop(draw.integer(0, len(pool) - 1)))
    return out


@dataclass(frozen=True)
class Options:
    max_roles: int = 4
    max_kinds: int = 3
    max_rules: int = 12
    #: No ``any`` attributes, values always of the declared type, no 0/1 ints.
    well_typed: bool = False


@dataclass
class GeneratedPolicy:
    data: dict[str, Any]
    text: str
    roles: list[str]
    groups: list[str]
    kinds: dict[str, dict[str, str]]  # kind -> attribute -> type
    actions: dict[str, list[str]]
    strings: list[str]
    ints: list[int]
    options: Options = field(default_factory=Options)
    #: File name -> YAML text (one file, or two to be merged).
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    subject: RefSubject
    action: str
    kind: str
    attributes: dict[str, object]

    def authzguard(self) -> tuple[Any, str, Any]:
        from authzguard.policy.model import Resource, Subject

        s = self.subject
        subject = Subject(
            id=s.id,
            username=s.username,
            email=s.email,
            roles=s.roles,
            authenticated=s.authenticated,
            groups=s.groups,
        )
        return subject, self.action, Resource(self.kind, self.attributes)


# -- policies ---------------------------------------------------------------------------


def random_string(draw: Draw) -> str:
    return "".join(draw.choice(STRING_PIECES) for _ in range(draw.integer(0, 5)))


def string_literal(draw: Draw, value: str) -> str:
    """The value as a condition-language string literal, in either quote style."""
    quote = draw.choice(('"', "'"))
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == quote:
            out.append("\\" + quote)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append(draw.choice(("\\t", "\t")))
        elif char in "\"'":
            out.append(draw.choice((char, "\\" + char)))
        else:
            out.append(char)
    return quote + "".join(out) + quote


def _comparable(a: str, b: str) -> bool:
    return a == b or "any" in (a, b) or {a, b} in ({"key", "int"}, {"key", "str"})


class _Conditions:
    """Well-typed conditions over one resource kind's attributes."""

    def __init__(self, draw: Draw, policy: GeneratedPolicy, kind: str) -> None:
        self.draw = draw
        self.policy = policy
        self.refs = [("subject.id", "key"), ("subject.username", "str"), ("subject.email", "str")]
        self.refs += [("subject.groups", "list")]
        self.refs += [(f"resource.{a}", t) for a, t in policy.kinds[kind].items()]

    def space(self) -> str:
        return self.draw.choice((" ", " ", "  ", "\t"))

    def literal(self, kind: str) -> str:
        draw = self.draw
        if kind == "str":
            return string_literal(draw, draw.choice(self.policy.strings))
        if kind == "int":
            return str(draw.choice(self.policy.ints))
        return draw.choice(("true", "false"))

    def list_literal(self, kind: str) -> str:
        items = [self.literal(kind) for _ in range(self.draw.integer(1, 3))]
        trailing = "," if self.draw.chance(15) else ""
        return "[" + ", ".join(items) + trailing + "]"

    def value(self, depth: int, want: str | None = None) -> tuple[str, str]:
        """An operand of a comparison (``want``: a type it must be comparable with)."""
        draw = self.draw
        options: list[tuple[str, str]] = []
        refs = [r for r in self.refs if want is None or _comparable(r[1], want)]
        if refs and draw.chance(60):
            return draw.choice(refs)
        for kind in ("str", "int", "bool"):
            if want is None or _comparable(kind, want):
                options.append(("literal", kind))
        if want in (None, "list", "any"):
            options.append(("list", draw.choice(("str", "int", "bool"))))
        if depth > 0 and want in (None, "bool", "any"):
            options.append(("paren", "bool"))
        if not options:
            return draw.choice(refs)
        form, kind = draw.choice(options)
        if form == "literal":
            return self.literal(kind), kind
        if form == "list":
            return self.list_literal(kind), "list"
        return "(" + self.condition(depth - 1) + ")", "bool"

    def compare(self, depth: int) -> str:
        draw = self.draw
        op = draw.choice(("==", "!=", "in", "not in", "==", "in"))
        if op in ("==", "!="):
            left, kind = self.value(depth)
            right, _ = self.value(depth, kind)
            if draw.chance(50):
                left, right = right, left
        else:
            containers = [r for r in self.refs if r[1] in ("list", "any")]
            if containers and draw.chance(40):
                right, _ = draw.choice(containers)
                left, _ = self.value(depth)
            else:
                element = draw.choice(("str", "int", "bool"))
                right = self.list_literal(element)
                left, _ = self.value(depth, element)
                while left.startswith("["):  # a list is never an element of a literal list
                    left, _ = self.value(depth, element)
        return f"{left}{self.space()}{op}{self.space()}{right}"

    def condition(self, depth: int) -> str:
        draw = self.draw
        booleans = [r for r, t in self.refs if t in ("bool", "any")]
        form = draw.integer(0, 9)
        if form <= 4 or depth <= 0:
            if booleans and draw.chance(15):
                return draw.choice(booleans)
            if draw.chance(5):
                return draw.choice(("true", "false"))
            return self.compare(depth)
        if form <= 5:
            return "not" + self.space() + self._wrapped(depth - 1)
        op = draw.choice(("and", "or"))
        parts = [self._wrapped(depth - 1) for _ in range(draw.integer(2, 3))]
        return (self.space() + op + self.space()).join(parts)

    def _wrapped(self, depth: int) -> str:
        text = self.condition(depth)
        # Parentheses keep the generated structure whatever the precedence; some are left
        # off where precedence makes them unnecessary, to exercise the parser.
        if " and " in text or " or " in text or "\tand" in text or "\tor" in text:
            return "(" + text + ")"
        return "(" + text + ")" if self.draw.chance(30) else text


def generate_policy(draw: Draw, options: Options = Options()) -> GeneratedPolicy:
    ints = INTS_NO_BOOL_COLLISION if options.well_typed else INTS
    # A role's name among the values: a subject named like a role must not hold it.
    strings = [random_string(draw) for _ in range(draw.integer(1, 3))]
    strings += ["alice", draw.choice(ROLE_NAMES)]
    policy = GeneratedPolicy(
        data={},
        text="",
        roles=subset(draw, ROLE_NAMES, 1, options.max_roles),
        groups=subset(draw, GROUP_NAMES, 0, 3),
        kinds={},
        actions={},
        strings=strings,
        ints=subset(draw, ints, 2, 4),
        options=options,
    )
    data: dict[str, Any] = {"version": 1}
    if draw.chance(20):
        data["description"] = "generated: " + random_string(draw)

    roles: dict[str, Any] = {}
    for i, name in enumerate(policy.roles):
        spec: dict[str, Any] = {}
        # Inheritance only towards later roles: a DAG, never a cycle.
        parents = subset(draw, policy.roles[i + 1 :], 0, 2)
        if parents:
            spec["inherits"] = parents if len(parents) > 1 or draw.chance(50) else parents[0]
        sources: list[Any] = subset(draw, SOURCES, 0, 2)
        sources += [{"group": g} for g in subset(draw, policy.groups, 0, 2)]
        if sources:
            spec["granted_to"] = sources
        if draw.chance(20):
            spec["description"] = random_string(draw)
        roles[name] = spec
    data["roles"] = roles

    resources: dict[str, Any] = {}
    types = [t for t in TYPES if t != "any"] if options.well_typed else list(TYPES)
    for kind in subset(draw, KIND_NAMES, 1, options.max_kinds):
        actions = subset(draw, ACTION_NAMES, 1, 3)
        attributes = {a: draw.choice(types) for a in subset(draw, ATTRIBUTE_NAMES, 0, 4)}
        policy.kinds[kind] = attributes
        policy.actions[kind] = actions
        spec = {}
        if draw.chance(50):
            spec["actions"] = actions
        else:
            spec["actions"] = {
                a: ({"destructive": True} if draw.chance(20) else {}) for a in actions
            }
        if attributes:
            if (
                not options.well_typed
                and draw.chance(10)
                and all(t == "any" for t in attributes.values())
            ):
                spec["attributes"] = list(attributes)
            else:
                spec["attributes"] = {
                    a: draw.choice((t, {"type": t}, {"type": t, "field": a + "_id"}))
                    for a, t in attributes.items()
                }
        resources[kind] = spec
    data["resources"] = resources

    rules = []
    subjects_pool = [*policy.roles, "*", "authenticated", "anonymous"]
    for i in range(draw.integer(1, options.max_rules)):
        kind = draw.choice(list(policy.kinds))
        subjects = subset(draw, subjects_pool, 1, 3)
        actions = subset(draw, policy.actions[kind], 1, 3)
        rule: dict[str, Any] = {
            "id": f"{draw.choice(RULE_ID_PREFIXES)}{i}",
            "effect": "deny" if draw.chance(30) else "allow",
            "subjects": subjects[0] if len(subjects) == 1 and draw.chance(30) else subjects,
            "actions": actions[0] if len(actions) == 1 and draw.chance(30) else actions,
            "resource": kind,
        }
        if draw.chance(70):
            rule["when"] = _Conditions(draw, policy, kind).condition(draw.integer(0, 2))
        if draw.chance(20):
            rule["description"] = random_string(draw)
        rules.append(rule)
    data["rules"] = rules

    policy.data = data
    style = {
        "sort_keys": False,
        "allow_unicode": draw.chance(50),
        "width": draw.choice((80, 10**6)),
        "default_flow_style": draw.choice((False, None)),
    }
    if draw.chance(30):
        # Two files, merged in name order: roles and some rules first, the rest after.
        cut = draw.integer(0, len(rules))
        first = {"version": 1, "roles": roles, "rules": rules[:cut]}
        second = {"version": 1, "resources": resources, "rules": rules[cut:]}
        policy.files = {
            "a.yaml": yaml.safe_dump(first, **style),  # type: ignore[call-overload]
            "b.yml": yaml.safe_dump(second, **style),  # type: ignore[call-overload]
        }
    else:
        policy.files = {"policy.yaml": yaml.safe_dump(data, **style)}  # type: ignore[call-overload]
    policy.text = "".join(f"# {name}\n{text}" for name, text in policy.files.items())
    return policy


# -- requests ---------------------------------------------------------------------------


def _value(draw: Draw, policy: GeneratedPolicy, kind: str) -> object:
    if kind == "any":
        kind = draw.choice(("str", "int", "bool", "key", "list"))
    if kind == "str":
        return draw.choice(policy.strings)
    if kind == "int":
        return draw.choice(policy.ints)
    if kind == "bool":
        return draw.chance(50)
    if kind == "key":
        return draw.choice(policy.ints) if draw.chance(60) else draw.choice(policy.strings)
    elements = ("str", "int") if policy.options.well_typed else ("str", "int", "bool")
    return [_value(draw, policy, draw.choice(elements)) for _ in range(draw.integer(0, 3))]


def generate_request(draw: Draw, policy: GeneratedPolicy) -> Request:
    kinds = list(policy.kinds)
    kind = draw.choice(kinds) if draw.chance(92) else "ghost"
    actions = policy.actions.get(kind, [])
    action = draw.choice(actions) if actions and draw.chance(88) else draw.choice(ACTION_NAMES)

    authenticated = draw.chance(75)
    roles = set(subset(draw, policy.roles, 0, 3))
    if draw.chance(8):
        roles.add("stranger")  # held by the subject, unknown to the policy
    subject = RefSubject(
        roles=frozenset(roles),
        authenticated=authenticated,
        id=(None if not authenticated or draw.chance(10) else _value(draw, policy, "key")),
        username=draw.choice(policy.strings) if authenticated and draw.chance(85) else None,
        email=draw.choice(policy.strings) if authenticated and draw.chance(75) else None,
        # Group names among the strings conditions test; unknown (absent) now and then.
        groups=(
            None
            if draw.chance(10)
            else tuple(sorted(set(subset(draw, [*policy.strings, *policy.groups], 0, 3))))
            if authenticated
            else ()
        ),
    )

    attributes: dict[str, object] = {}
    for name, declared in policy.kinds.get(kind, {}).items():
        roll = draw.integer(0, 99)
        if roll < 8:
            continue  # absent
        if roll < 11:
            attributes[name] = None  # present but null: absent too
        elif roll < 88 or policy.options.well_typed:
            attributes[name] = _value(draw, policy, declared)
        else:
            attributes[name] = _value(draw, policy, draw.choice(WRONG_TYPES[declared]))
    if draw.chance(5):
        attributes["undeclared"] = draw.choice(policy.strings)
    return Request(subject, action, kind, attributes)


# -- running the engines ----------------------------------------------------------------


def write_policy(policy: GeneratedPolicy, directory: Path) -> Path:
    """The policy's file, or a directory of its files: what ``load_policy`` is given."""
    if len(policy.files) == 1:
        [(name, text)] = policy.files.items()
        (directory / name).write_text(text, encoding="utf-8")
        return directory / name
    folder = directory / "policies"
    folder.mkdir()
    for name, text in policy.files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def compile_files(policy_path: Path, out: Path) -> tuple[Path, Path]:
    """``authzguard compile PATH --out OUT``, its stdout swallowed."""
    from authzguard.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["compile", str(policy_path), "--out", str(out)])
    assert code == 0, f"authzguard compile exited {code}"
    return out / "model.conf", out / "policy.csv"


def stock_allows(enforcer: Any, request: Request) -> bool:
    """Stock pycasbin's answer; any exception it raises counts as a deny."""
    from authzguard.enforcer import request_values

    try:
        return bool(enforcer.enforce(*request_values(*request.authzguard())))
    except Exception:
        return False


@dataclass
class Stats:
    policies: int = 0
    requests: int = 0
    #: Requests whose every value has its declared type (the rest: wrong types).
    well_typed: int = 0
    allowed: int = 0
    denied: int = 0
    #: Requests on which stock pycasbin raised (an absent attribute, a bad comparison).
    casbin_errors: int = 0
    #: Requests Casbin allows and authzguard refuses for a value of the wrong type.
    type_refusals: int = 0
    elapsed: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    def merge(self, other: Stats) -> None:
        for name in (
            "policies",
            "requests",
            "well_typed",
            "allowed",
            "denied",
            "casbin_errors",
            "type_refusals",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.mismatches.extend(other.mismatches)


def equivalence_run(
    seed: int, n_requests: int, n_policies: int, options: Options = Options()
) -> Stats:
    """Random requests over random policies: the indexed engine against stock pycasbin
    loaded from the files ``authzguard compile`` writes, and both against the reference.

    On well-typed requests the three must be identical. A value of the wrong type is
    refused by authzguard before any rule (the spec's declared-type check); Casbin, which
    sees no types, must then answer as the reference does without that check.
    """
    from authzguard.enforcer import load_files, request_values
    from authzguard.policy import compile_policy, load_policy
    from tests.policy_reference import well_typed

    stats = Stats()
    started = time.perf_counter()
    draw = RandomDraw(random.Random(seed))
    per_policy = [n_requests // n_policies] * n_policies
    per_policy[0] += n_requests - sum(per_policy)
    with tempfile.TemporaryDirectory(prefix="authzguard-equiv-") as tmp:
        for index, count in enumerate(per_policy):
            policy = generate_policy(draw, options)
            where = Path(tmp) / str(index)
            where.mkdir()
            path = write_policy(policy, where)
            compiled = compile_policy(load_policy([path]))
            raw = read_policy_data(path)
            enforcer = load_files(*compile_files(path, where / "casbin"))
            stats.policies += 1
            for _ in range(count):
                request = generate_request(draw, policy)
                decision = compiled.decide(*request.authzguard())
                try:
                    casbin = bool(enforcer.enforce(*request_values(*request.authzguard())))
                except Exception:
                    casbin = False
                    stats.casbin_errors += 1
                args = (raw, request.subject, request.action, request.kind, request.attributes)
                expected = reference_decide(*args)
                untyped = reference_decide(*args, check_types=False)
                typed = well_typed(*args[:2], request.kind, request.attributes)
                stats.requests += 1
                stats.well_typed += typed
                stats.allowed += decision.allowed
                stats.denied += not decision.allowed
                stats.type_refusals += casbin and not typed
                agree = decision.allowed == expected.allowed and casbin == untyped.allowed
                if typed:
                    agree = agree and decision.allowed == casbin
                if not agree:
                    stats.mismatches.append(
                        f"seed {seed}, policy #{index}: indexed={decision.allowed} "
                        f"casbin={casbin} reference={expected.allowed} "
                        f"(well-typed: {typed}) for {request!r}\n{policy.text}"
                    )
    stats.elapsed = time.perf_counter() - started
    return stats
