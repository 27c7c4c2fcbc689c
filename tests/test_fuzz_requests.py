"""Fuzzing the target resolvers through real requests: no 500, and the view runs only if allowed.

Random query strings, form, JSON and multipart bodies (duplicated and missing parameters,
nesting, wrong types, odd and unknown charsets, huge values) go through Django's test
client to views bound with the decorator, the class-based-view mixin and the DRF
permission. Each view body records a ``ViewCall`` row (DRF views: their own side
effects are checked through the decision): a request that was not allowed must leave
none. The test client re-raises any exception a view or middleware lets through, so a
500 fails the example.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.testapp.models import Note, ViewCall

User = get_user_model()

pytestmark = [pytest.mark.property, pytest.mark.django_db]

FUZZ_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    print_blob=False,
)

#: (method, path, the parameter the binding reads); ``{}`` in a path takes a fuzzed segment.
TARGETS = [
    ("POST", "/users/delete/", "id"),  # decorator, body
    ("POST", "/async/users/delete/", "id"),  # decorator, async view
    ("POST", "/sessions/end/", "email"),  # decorator, body, looked up by email
    ("GET", "/async/users/", "id"),  # decorator, query
    ("GET", "/users/{}/", "id"),  # decorator, path
    ("GET", "/notes/by-token/", "token"),  # decorator, query, UUID field
    ("POST", "/notes/edit/", "slug"),  # method_decorator on a CBV, form
    ("GET", "/notes/{}/", "pk"),  # AuthorizeMixin (DetailView)
    ("POST", "/async/notes/edit/", "slug"),  # AuthorizeMixin, async
    ("GET", "/api/users/{}/", "pk"),  # DRF permission
    ("DELETE", "/api/users/{}/", "pk"),  # DRF permission, destructive
    ("POST", "/api/sessions/end/", "email"),  # DRF permission, body
]

HUGE = st.sampled_from([255, 4096, 100_000]).flatmap(
    lambda n: st.sampled_from(["9" * n, "a" * n, "é" * n, "%00" * (n // 3)])
)
SCALAR_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["1", "2", "-1", "0x1", "1e3", " 1", "1\n", "\u0661", "NaN", "null", "[]", "{}"]
    ),
    st.sampled_from(
        ["alice@example.com", "bob@example.com", "ALICE@example.com", "alice-note", "x"]
    ),
    st.uuids().map(str),
    HUGE,
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), SCALAR_TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
CHARSETS = st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii", "utf-42", "", "koi8-r"])


@st.composite
def pairs(draw: st.DrawFn, name: str) -> list[tuple[str, str]]:
    """Parameters as sent: the target's (absent, once or repeated) among others."""
    count = draw(st.sampled_from([0, 1, 1, 1, 2, 3]))
    found = [(name, draw(SCALAR_TEXT)) for _ in range(count)]
    others = draw(
        st.lists(
            st.tuples(st.sampled_from([name.upper(), "_method", "x", name + "[]"]), SCALAR_TEXT),
            max_size=3,
        )
    )
    return draw(st.permutations(found + others))


def encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset or "utf-8", errors="surrogatepass")
    except (LookupError, UnicodeError):
        return text.encode("utf-8", errors="surrogatepass")


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    method, path, name = draw(st.sampled_from(TARGETS))
    if "{}" in path:
        path = path.format(quote(draw(SCALAR_TEXT), safe="") or "1")
    kind = draw(st.sampled_from(["query", "form", "json", "multipart", "raw"]))
    sent = draw(pairs(name))
    charset = draw(CHARSETS)
    body = b""
    content_type = "application/octet-stream"
    query = ""
    if kind == "query":
        query = "&".join(f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in sent)
    elif kind == "form":
        text = "&".join(f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in sent)
        body = encode(text, charset)
        content_type = "application/x-www-form-urlencoded" + (
            f"; charset={charset}" if charset else ""
        )
    elif kind == "json":
        document = draw(
            st.one_of(JSON_VALUES, st.just(dict(sent)), st.builds(lambda v: {name: v}, JSON_VALUES))
        )
        body = encode(json.dumps(document), charset)
        content_type = draw(st.sampled_from(["application/json", "application/vnd.api+json"]))
        content_type += f"; charset={charset}" if charset else ""
    elif kind == "multipart":
        fields: dict[str, Any] = {}
        for k, v in sent:
            fields.setdefault(k, []).append(v)
        body = encode_multipart(BOUNDARY, fields)
        content_type = MULTIPART_CONTENT
    else:
        body = draw(st.binary(max_size=300))
        content_type = draw(
            st.sampled_from(
                [
                    MULTIPART_CONTENT,
                    "application/json",
                    "application/x-www-form-urlencoded",
                    "text/plain",
                ]
            )
        )
    return {
        "method": method,
        "path": path,
        "query": query,
        "body": body,
        "content_type": content_type,
    }


def person(who: str) -> Any:
    """The account, created again when an earlier example deleted it (admin may delete)."""
    if who == "anonymous":
        return None
    user, _ = User.objects.get_or_create(
        username=who,
        defaults={
            "email": f"{who}@example.com",
            "is_superuser": who == "root",
            "is_staff": who == "root",
        },
    )
    if who != "root":
        Note.objects.get_or_create(slug=f"{who}-note", defaults={"owner": user, "title": who})
    return user


@FUZZ_SETTINGS
@given(request=requests(), who=st.sampled_from(["alice", "root", "anonymous"]))
def test_fuzzed_requests_never_500_and_never_reach_the_view_unless_allowed(
    db: None, request: dict[str, Any], who: str
) -> None:
    note(repr(request)[:2000])
    person("bob")
    client = Client()
    user = person(who)
    if user is not None:
        client.force_login(user)
    calls = ViewCall.objects.count()
    path = request["path"] + (f"?{request['query']}" if request["query"] else "")
    response = client.generic(
        request["method"], path, request["body"], content_type=request["content_type"]
    )
    assert response.status_code < 500, response.content[:500]
    authz = getattr(response.wsgi_request, "authz", None)
    allowed = authz is not None and authz.allowed
    if not allowed:
        assert ViewCall.objects.count() == calls, "a view ran although nothing allowed it"
        assert response.status_code in (302, 400, 401, 403, 404, 405, 413, 415), (
            response.status_code
        )
