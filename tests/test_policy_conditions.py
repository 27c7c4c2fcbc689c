"""The condition language: parse trees, errors, evaluation and the Casbin rendering."""

from __future__ import annotations

import pytest

from authzguard.exceptions import ConditionError, EvaluationError
from authzguard.policy import conditions as c
from authzguard.policy import evaluation


def test_parse_builds_an_inspectable_tree() -> None:
    tree = c.parse('resource.owner == subject.id and not resource.status in ["closed", "gone"]')
    assert tree == c.BoolOp(
        "and",
        (
            c.Compare("==", c.Ref("resource", "owner", 0), c.Ref("subject", "id", 18), 15),
            c.Not(
                c.Compare(
                    "in",
                    c.Ref("resource", "status", 37),
                    c.ListLiteral((c.Literal("closed", 57), c.Literal("gone", 67)), 56),
                    53,
                ),
                33,
            ),
        ),
        0,
    )
    assert [r.name for r in c.refs(tree)] == ["owner", "id", "status"]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (
            "resource.a == 1 or resource.b == 2 and resource.c == 3",
            "(resource.a == 1) or ((resource.b == 2) and (resource.c == 3))",
        ),
        ("not not resource.flag", "not (not resource.flag)"),
        ("resource.a not in [1, -2,]", "resource.a not in [1, -2]"),
        ("(resource.s == 'it\\'s')", 'resource.s == "it\'s"'),
        ("resource.flag == true", "resource.flag == true"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert c.to_text(c.parse(text)) == canonical
    assert c.to_text(c.parse(canonical)) == canonical  # stable under a round trip


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "condition is empty", 0),
        ("resource.owner ==", "expected a value, found end of condition", 17),
        ("resource.owner = 1", "unexpected character '='", 15),
        (
            "user.id == 1",
            "unknown name 'user': conditions read subject.<attr> and resource.<attr>",
            0,
        ),
        (
            "resource.owner.id == 1",
            "only one level of attribute is allowed (subject.x, resource.x)",
            14,
        ),
        ("len(resource.tags) == 1", "function calls are not allowed (len(...))", 0),
        ("resource.a == 1 == 2", "unexpected '=='", 16),
        ("resource.a == 010", "integer 010 has a leading zero; write it without one", 14),
        (
            "resource.a == None",
            "'None' is not a value here: use true or false (there is no null; an absent attribute denies)",
            14,
        ),
        ("resource.a in []", "an empty list never matches; remove the condition", 14),
        (
            "resource.__class__ == 1",
            "attribute name '__class__' must be lowercase letters, digits and _, starting with a letter",
            9,
        ),
        ("resource.a == 'x\\q'", "unknown escape \\q in string", 16),
        ("resource.a == 1 +", "unexpected character '+'", 16),
        ("(" * 50 + "resource.a" + ")" * 50, "condition is nested too deeply", 41),
    ],
)
def test_parse_errors_name_the_column(text: str, message: str, column: int) -> None:
    with pytest.raises(ConditionError) as info:
        c.parse(text)
    assert (info.value.message, info.value.column) == (message, column)


def test_type_checks() -> None:
    subject = {"id": "key", "username": "str", "email": "str"}
    resource = {"owner": "key", "status": "str", "n": "int", "flag": "bool", "tags": "list"}

    def problems(text: str) -> list[tuple[str, str]]:
        return [(p.code, p.message) for p in c.check_types(c.parse(text), subject, resource)]

    assert problems("resource.owner == subject.id and resource.flag") == []
    assert problems('subject.username in resource.tags or resource.status in ["a", "b"]') == []
    assert problems("resource.status == 3") == [
        ("AZ208", "comparing str with int is never equal: check the types")
    ]
    assert problems("resource.nope == 1") == [
        ("AZ205", "unknown attribute resource.nope (known: flag, n, owner, status, tags)")
    ]
    assert problems("resource.status") == [
        ("AZ208", "a condition needs a true/false value, not a str")
    ]
    assert problems("resource.n in 3") == [("AZ208", "'in' needs a list on its right, not int")]
    assert problems('resource.n in ["1"]') == [("AZ208", "looking for a int in a list of str")]
    assert problems('resource.n in [1, "1"]') == [("AZ208", "list mixes values of different types")]
    assert problems("not resource.n") == [("AZ208", "'not' needs a true/false value, not a int")]


def test_ownership_detection() -> None:
    own = c.is_ownership
    assert own(c.parse("resource.owner == subject.id"))
    assert own(c.parse("subject.id == resource.owner and resource.status == 'open'"))
    assert own(c.parse("subject.username in resource.members"))
    assert not own(c.parse("resource.owner != subject.id"))
    assert not own(c.parse("not resource.owner == subject.id"))
    assert not own(c.parse("resource.owner == subject.id or resource.public == true"))
    assert own(c.parse("resource.owner == subject.id or resource.editor == subject.id"))


def evaluate(text: str, s: dict[str, object], r: dict[str, object]) -> bool:
    return evaluation.truth(evaluation.compile_evaluator(c.parse(text))(s, r))


def test_evaluation_uses_python_operators_and_denies_on_absence() -> None:
    assert evaluate("resource.owner == subject.id", {"id": 7}, {"owner": 7})
    assert not evaluate("resource.owner == subject.id", {"id": 7}, {"owner": "7"})
    assert evaluate("resource.s not in ['a', 'b'] and resource.n != -1", {}, {"s": "c", "n": 2})
    assert evaluate("resource.a or resource.b", {}, {"a": False, "b": True})
    with pytest.raises(EvaluationError, match=r"subject\.id is absent"):
        evaluate("resource.owner == subject.id", {}, {"owner": 7})
    with pytest.raises(EvaluationError, match="cannot test membership"):
        evaluate("resource.a in resource.b", {}, {"a": 1, "b": 2})
    with pytest.raises(EvaluationError, match="condition produced str"):
        evaluate("resource.a", {}, {"a": "yes"})
    # Short-circuit like Python (and Casbin): the absent attribute is never read.
    assert not evaluate("resource.flag and resource.missing == 1", {}, {"flag": False})


def test_casbin_rendering_escapes_every_risky_character() -> None:
    tree = c.parse('resource.s == "a, b! && c || d # r.x p.y (z) [w] \\"q\\" é 😀"')
    text = evaluation.to_casbin(tree)
    assert text.startswith('(r.obj.s == "a\\x2c')
    for risky in (",", "!", "&", "|", "#", "(z)", "[w]", "r.x", "p.y", "é"):
        assert risky not in text.split("==", 1)[1]
    # The rendering is a Python literal with the same value.
    import ast

    literal = ast.literal_eval(text.split("== ", 1)[1].rstrip(")"))
    assert literal == 'a, b! && c || d # r.x p.y (z) [w] "q" é 😀'
