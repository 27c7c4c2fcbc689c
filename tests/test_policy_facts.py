"""Django facts as auditor tools take them: parsing, checking, and the runtime's role mapping."""

from __future__ import annotations

import json

import pytest

from authzguard.policy import CompiledPolicy, compile_policy, load_policy
from authzguard.policy.facts import (
    Facts,
    UsageError,
    check_action,
    check_facts,
    granted_roles,
    parse_facts,
    parse_facts_json,
    parse_resource,
    parse_resource_json,
    subject_from_facts,
)

POLICY = """\
version: 1
roles:
  admin: {granted_to: [superuser], inherits: [support]}
  support: {granted_to: [{group: support}]}
  finance: {granted_to: [{group: "a+b"}]}
  clerk: {granted_to: [staff]}
  member: {granted_to: [authenticated]}
  guest: {granted_to: [anonymous]}
resources:
  doc:
    actions: [read, delete]
    attributes:
      owner: key
      tags: list
      public: bool
rules:
  - {id: owners-read, effect: allow, subjects: [authenticated], actions: [read], resource: doc,
     when: resource.owner == subject.id}
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    path = tmp_path_factory.mktemp("facts") / "p.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return compile_policy(load_policy([path]))


def test_short_form_reads_every_fact() -> None:
    facts = parse_facts(
        "id=7,username=ann,email=a@x.org,staff=true,superuser=false,groups=support+finance"
    )
    assert facts == Facts(
        authenticated=True,
        id=7,
        username="ann",
        email="a@x.org",
        staff=True,
        groups=("support", "finance"),
    )
    assert parse_facts("anonymous") == Facts.anonymous()
    assert parse_facts("authenticated=false") == Facts.anonymous()
    assert parse_facts('id="7"').id == "7"
    assert parse_facts("groups=[],roles=[admin]").roles == ("admin",)


def test_json_form_takes_names_the_short_form_cannot_quote() -> None:
    facts = parse_facts_json('{"id": 7, "groups": ["a+b", "x,y"]}')
    assert facts.groups == ("a+b", "x,y")
    assert facts.authenticated
    assert parse_facts_json('{"authenticated": false}') == Facts.anonymous()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id=7,grups=a", "unknown fact 'grups'; did you mean 'groups'?"),
        ("id=7,staff=yes", "staff must be true or false, not 'yes'"),
        ("id=7,id=8", "'id' given twice"),
        ("7", "expected name=value, got '7'"),
        ("authenticated=false,id=7", "an anonymous user has no id"),
        ("authenticated=false,staff=true", "an anonymous user has no staff"),
        ("id=true", "id must be an integer or a string"),
    ],
)
def test_short_form_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=r"^--subject: ") as caught:
        parse_facts(text)
    assert message in str(caught.value)


def test_json_errors() -> None:
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_facts_json("{id: 7}")
    with pytest.raises(UsageError, match="expected a JSON object"):
        parse_facts_json("[7]")
    with pytest.raises(UsageError, match="groups must be a list of names"):
        parse_facts_json('{"groups": "support"}')


def test_facts_map_through_granted_to_and_inherits(compiled: CompiledPolicy) -> None:
    root = subject_from_facts(compiled, parse_facts("id=1,superuser=true"))
    assert root.roles == {"admin", "member"}
    assert compiled.effective_roles(root) == {"*", "authenticated", "admin", "support", "member"}
    assert subject_from_facts(compiled, parse_facts("id=2,groups=support")).roles == {
        "support",
        "member",
    }
    assert subject_from_facts(compiled, parse_facts_json('{"groups": ["a+b"]}')).roles == {
        "finance",
        "member",
    }
    assert subject_from_facts(compiled, parse_facts("id=3,staff=true")).roles == {"clerk", "member"}
    anonymous = subject_from_facts(compiled, Facts.anonymous())
    assert (anonymous.roles, anonymous.id, anonymous.authenticated) == ({"guest"}, None, False)
    # Like Django's ModelBackend: an inactive user is granted nothing for staff, superuser
    # or groups, but is still signed in.
    inactive = parse_facts("id=4,active=false,superuser=true,staff=true,groups=support")
    assert granted_roles(compiled, inactive) == {"member"}
    # Role names given directly add to what the facts grant.
    assert subject_from_facts(compiled, parse_facts("id=5,roles=admin")).roles == {
        "admin",
        "member",
    }


def test_undeclared_names_are_usage_errors_with_a_hint(compiled: CompiledPolicy) -> None:
    with pytest.raises(UsageError, match="declares no role 'admn'; did you mean 'admin'"):
        check_facts(compiled, parse_facts("id=1,roles=admn"))
    # A group is a Django fact: one the policy never names grants nothing, as at run time.
    check_facts(compiled, parse_facts("id=1,groups=nobody-names-this"))
    with pytest.raises(UsageError, match="no resource kind 'dok'; did you mean 'doc'"):
        parse_resource(compiled, "dok:owner=1")
    with pytest.raises(UsageError, match="no attribute 'ownr'; did you mean 'owner'"):
        parse_resource(compiled, "doc:ownr=1")
    with pytest.raises(UsageError, match="no action 'reed'; did you mean 'read'"):
        check_action(compiled, "doc", "reed")
    with pytest.raises(UsageError, match=r"resource.public is a str, not a bool"):
        parse_resource(compiled, "doc:public=yes")


def test_list_values(compiled: CompiledPolicy) -> None:
    assert parse_resource(compiled, "doc:tags=a+b").attributes["tags"] == ["a", "b"]
    assert parse_resource(compiled, "doc:tags=[a+7]").attributes["tags"] == ["a", 7]
    assert parse_resource(compiled, "doc:tags=[]").attributes["tags"] == []
    assert parse_resource(compiled, "doc:tags=solo").attributes["tags"] == ["solo"]
    # A key is never split: only list-typed attributes are.
    assert parse_resource(compiled, "doc:owner=a+b").attributes["owner"] == "a+b"
    with pytest.raises(UsageError, match=r"resource\.owner is a list, not a key"):
        parse_resource(compiled, "doc:owner=[a+b]")
    resource = parse_resource_json(compiled, '{"kind": "doc", "tags": ["x,y", "a+b"]}')
    assert resource.attributes["tags"] == ["x,y", "a+b"]


def test_facts_round_trip_through_json() -> None:
    facts = parse_facts("id=7,staff=true,groups=a+b,roles=admin")
    assert parse_facts_json(json.dumps(facts.as_dict())) == facts
    assert parse_facts_json(json.dumps(Facts.anonymous().as_dict())) == Facts.anonymous()
