"""The guard's per-binding memo: worked out once per binding and policy, never stale.

``authzguard.guard`` remembers what a binding needs from the policy (the resource kind,
the accepted methods, the target plan) in a cache tied to one policy object. These tests
drive real requests through ``@authorize`` views and check that the memo is reused under
one policy, replaced when the policy is (a reused memo must never decide under a new
policy), bounded, and that a misdeclared target fails the same way on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from authzguard import guard, runtime
from authzguard.decorators import BINDING_ATTR, authorize, make_binding
from authzguard.guard import Binding, enforce
from tests.testapp.models import Note, ViewCall

pytestmark = pytest.mark.django_db

POLICY = """\
version: 1
resources:
  thing:
    {model_line}
    actions:
      read: {{safe: true}}
      touch: {{methods: [{touch_method}]}}
      poke: {{}}
    attributes:
      owner: {{type: key, field: {owner_field}}}
rules:
  - id: owner-uses-things
    effect: allow
    subjects: [authenticated]
    actions: [read, touch, poke]
    resource: thing
    when: resource.owner == subject.id
"""


def policy_text(
    *, model: str | None = "auth.User", touch_method: str = "PUT", owner_field: str = "pk"
) -> str:
    return POLICY.format(
        model_line=f"model: {model}" if model else "description: no model declared",
        touch_method=touch_method,
        owner_field=owner_field,
    )


def _answer(request: HttpRequest, name: str) -> HttpResponse:
    target = request.authz.target  # type: ignore[attr-defined]
    ViewCall.objects.create(view=name, target=str(target.pk))
    return HttpResponse(f"{type(target).__name__}:{target.pk}")


@authorize("read", "thing", target="id", source="path")
def read_thing(request: HttpRequest, id: str) -> HttpResponse:
    return _answer(request, "read_thing")


@authorize("touch", "thing", target="id", source="path")
def touch_thing(request: HttpRequest, id: str) -> HttpResponse:
    return _answer(request, "touch_thing")


@authorize("poke", "thing", target="id", source="path")
def poke_thing(request: HttpRequest, id: str) -> HttpResponse:
    return _answer(request, "poke_thing")


@authorize("read", "thing", target="id", source="path", model="testapp.Missing")
def read_missing_model(request: HttpRequest, id: str) -> HttpResponse:
    return _answer(request, "read_missing_model")


@authorize("read", "thing", target="id", source="path", field="no_such_field")
def read_missing_field(request: HttpRequest, id: str) -> HttpResponse:
    return _answer(request, "read_missing_field")


def per_request_binding(request: HttpRequest, id: str) -> HttpResponse:
    """Builds a new Binding on every request (unusual, but it must not grow the memo)."""
    binding = make_binding("read", "thing", target="id", source="path")
    kwargs: dict[str, Any] = {"id": id}
    denied = enforce(request, binding, kwargs)
    if denied is not None:
        return denied
    return _answer(request, "per_request_binding")


def _numbered(n: int) -> Callable[..., HttpResponse]:
    """Distinct bindings: even ones read (GET), odd ones touch (the policy's method)."""
    action = "read" if n % 2 == 0 else "touch"

    @authorize(action, "thing", target="id", source="path")
    def view(request: HttpRequest, id: str) -> HttpResponse:
        return _answer(request, f"many{n}")

    return view


MANY = [_numbered(n) for n in range(9)]

urlpatterns = [
    path("read/<str:id>/", read_thing),
    path("touch/<str:id>/", touch_thing),
    path("poke/<str:id>/", poke_thing),
    path("missing-model/<str:id>/", read_missing_model),
    path("missing-field/<str:id>/", read_missing_field),
    path("per-request/<str:id>/", per_request_binding),
]
urlpatterns += [path(f"many/{n}/<str:id>/", view) for n, view in enumerate(MANY)]


def binding_of(view: Callable[..., Any]) -> Binding:
    binding: Binding = getattr(view, BINDING_ATTR)
    return binding


def current_cache() -> Any:
    """The guard's memo, which must belong to the current policy."""
    cache = guard._cache
    assert cache is not None
    assert cache.policy is runtime.get_policy(), "the memo belongs to another policy"
    return cache


def prepared_entry(view: Callable[..., Any]) -> Any:
    """The memo's entry for ``view``'s binding under the current policy."""
    cache = current_cache()
    binding = binding_of(view)
    entry = cache.prepared[id(binding)]
    assert entry.binding is binding
    return entry


class PolicyFile:
    """The test's one policy file; ``swap`` rewrites it and makes the next request see it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "policy.yaml"

    def write(self, text: str) -> None:
        self.path.write_text(text)

    def swap(self, text: str, how: str) -> None:
        self.write(text)
        if how == "reload":
            runtime.reload_policy()
        else:
            runtime.reset_policy()


@pytest.fixture
def policy_file(tmp_path: Path) -> Iterator[PolicyFile]:
    policy = PolicyFile(tmp_path)
    policy.write(policy_text())
    with override_settings(ROOT_URLCONF=__name__, AUTHZGUARD_POLICY_PATHS=[tmp_path]):
        runtime.reset_policy()
        yield policy
    runtime.reset_policy()


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# -- (a) one preparation per binding and policy --------------------------------------------


def test_requests_to_one_view_reuse_one_preparation(
    policy_file: PolicyFile, alice: User, bob: User
) -> None:
    client = signed_in(alice)
    first = client.get(f"/read/{alice.pk}/")
    assert first.status_code == 200
    assert first.content == f"User:{alice.pk}".encode()
    cache, entry = current_cache(), prepared_entry(read_thing)
    assert entry.kind is runtime.get_policy().policy.resources["thing"]
    assert entry.methods == ("GET", "HEAD")
    assert entry.target is not None and entry.target.model is User

    # Another request, another user object, another answer: the same preparation.
    second = client.get(f"/read/{bob.pk}/")
    assert second.status_code == 403
    third = client.head(f"/read/{alice.pk}/")
    assert third.status_code == 200
    assert current_cache() is cache
    assert prepared_entry(read_thing) is entry
    # One entry per binding: the three requests did not add more.
    assert [e.binding for e in cache.prepared.values()].count(binding_of(read_thing)) == 1
    assert list(ViewCall.objects.values_list("view", "target")) == [
        ("read_thing", str(alice.pk)),
        ("read_thing", str(alice.pk)),
    ]


def test_each_binding_gets_its_own_preparation(policy_file: PolicyFile, alice: User) -> None:
    client = signed_in(alice)
    assert client.get(f"/read/{alice.pk}/").status_code == 200
    assert client.put(f"/touch/{alice.pk}/").status_code == 200
    read, touch = prepared_entry(read_thing), prepared_entry(touch_thing)
    assert read is not touch
    assert (read.methods, touch.methods) == (("GET", "HEAD"), ("PUT",))
    # The kind is the policy's own object: shared, not copied per binding.
    assert read.kind is touch.kind


# -- (b) a new policy brings a fresh preparation that follows it ----------------------------


@pytest.mark.parametrize("how", ["reload", "reset"])
def test_changed_methods_take_effect_on_the_next_request(
    policy_file: PolicyFile, alice: User, how: str
) -> None:
    client = signed_in(alice)
    url = f"/touch/{alice.pk}/"
    refused = client.post(url)
    assert refused.status_code == 405
    assert refused["Allow"] == "PUT"
    assert client.put(url).status_code == 200
    old_policy, old_entry = runtime.get_policy(), prepared_entry(touch_thing)
    assert old_entry.methods == ("PUT",)

    policy_file.swap(policy_text(touch_method="POST"), how)

    # The stale memo would answer 405 to the POST and run the view for the PUT.
    assert client.post(url).status_code == 200
    refused = client.put(url)
    assert refused.status_code == 405
    assert refused["Allow"] == "POST"
    assert runtime.get_policy() is not old_policy
    new_entry = prepared_entry(touch_thing)
    assert new_entry is not old_entry
    assert new_entry.methods == ("POST",)
    assert list(ViewCall.objects.values_list("view", flat=True)) == ["touch_thing"] * 2


@pytest.mark.parametrize("how", ["reload", "reset"])
def test_changed_model_takes_effect_on_the_next_request(
    policy_file: PolicyFile, alice: User, bob: User, how: str
) -> None:
    # Notes whose keys are the users' keys, owned the other way round: under the new
    # policy, the same URL names another object with another owner.
    Note.objects.create(pk=bob.pk, owner=alice, slug="alices", title="t")
    Note.objects.create(pk=alice.pk, owner=bob, slug="bobs", title="t")
    client = signed_in(alice)
    mine, theirs = f"/read/{alice.pk}/", f"/read/{bob.pk}/"
    response = client.get(mine)
    assert response.status_code == 200
    assert response.content == f"User:{alice.pk}".encode()
    assert client.get(theirs).status_code == 403
    old_entry = prepared_entry(read_thing)
    assert old_entry.target.model is User

    policy_file.swap(policy_text(model="testapp.Note", owner_field="owner.pk"), how)

    # A stale plan would still fetch users (and allow alice her own account).
    assert client.get(mine).status_code == 403
    response = client.get(theirs)
    assert response.status_code == 200
    assert response.content == f"Note:{bob.pk}".encode()
    new_entry = prepared_entry(read_thing)
    assert new_entry is not old_entry
    assert new_entry.target.model is Note
    assert new_entry.kind is runtime.get_policy().policy.resources["thing"]
    assert new_entry.kind is not old_entry.kind

    # And back: the memo follows every swap, not just the first.
    policy_file.swap(policy_text(), how)
    assert client.get(mine).content == f"User:{alice.pk}".encode()
    assert client.get(theirs).status_code == 403


def test_target_misdeclared_under_the_old_policy_works_under_the_new(
    policy_file: PolicyFile, alice: User
) -> None:
    policy_file.swap(policy_text(model=None), "reset")
    client = signed_in(alice)
    url = f"/read/{alice.pk}/"
    # No model anywhere: the memo keeps no plan and every request is refused.
    assert client.get(url).status_code == 403
    assert prepared_entry(read_thing).target is None

    policy_file.swap(policy_text(), "reload")

    response = client.get(url)
    assert response.status_code == 200
    assert response.content == f"User:{alice.pk}".encode()
    assert prepared_entry(read_thing).target.model is User


def test_state_changing_methods_setting_is_followed(policy_file: PolicyFile, alice: User) -> None:
    # ``poke`` names no methods: they come from AUTHZGUARD_STATE_CHANGING_METHODS.
    client = signed_in(alice)
    url = f"/poke/{alice.pk}/"
    assert client.post(url).status_code == 200
    assert client.patch(url).status_code == 405
    assert prepared_entry(poke_thing).methods is None
    with override_settings(AUTHZGUARD_STATE_CHANGING_METHODS=["PATCH"]):
        assert client.patch(url).status_code == 200
        refused = client.post(url)
        assert refused.status_code == 405
        assert refused["Allow"] == "PATCH"
    assert client.post(url).status_code == 200
    assert client.patch(url).status_code == 405


# -- (c) the memo is bounded ----------------------------------------------------------------


def test_memo_stays_bounded_over_many_bindings(
    policy_file: PolicyFile, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 3
    monkeypatch.setattr(guard, "_PREPARED_LIMIT", limit)
    policy_file.swap(policy_text(touch_method="POST"), "reset")
    client = signed_in(alice)
    sizes = []
    for _ in range(2):  # the second round re-prepares bindings dropped by the first
        for n in range(len(MANY)):
            url = f"/many/{n}/"
            good, wrong = (client.get, client.post) if n % 2 == 0 else (client.post, client.get)
            response = good(f"{url}{alice.pk}/")
            assert response.status_code == 200, n
            assert response.content == f"User:{alice.pk}".encode()
            assert good(f"{url}{bob.pk}/").status_code == 403, n
            assert wrong(f"{url}{alice.pk}/").status_code == 405, n
            prepared = current_cache().prepared
            sizes.append(len(prepared))
            assert len(prepared) <= limit
            # Every entry is filed under its own binding, and this view's is among them.
            assert all(key == id(entry.binding) for key, entry in prepared.items())
            entry = prepared_entry(MANY[n])
            assert entry.methods == (("GET", "HEAD") if n % 2 == 0 else ("POST",))
    assert max(sizes) == limit
    assert ViewCall.objects.count() == 2 * len(MANY)


def test_bindings_built_per_request_do_not_grow_the_memo(
    policy_file: PolicyFile, alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(alice)
    # Without a small limit every request's binding adds an entry...
    for count in range(1, 4):
        assert client.get(f"/per-request/{alice.pk}/").status_code == 200
        assert len(current_cache().prepared) == count
    # ...with one, the memo never holds more than the limit, and answers stay right.
    monkeypatch.setattr(guard, "_PREPARED_LIMIT", 2)
    for i in range(10):
        user = alice if i % 2 == 0 else bob
        assert client.get(f"/per-request/{user.pk}/").status_code == (200 if user is alice else 403)
        assert len(current_cache().prepared) <= 2
    assert ViewCall.objects.count() == 3 + 5


# -- (d) a misdeclared target is refused the same way every time ----------------------------


@pytest.mark.parametrize(
    ("view", "url", "error"),
    [
        (read_missing_model, "/missing-model/", "LookupError"),
        (read_missing_field, "/missing-field/", "FieldDoesNotExist"),
    ],
)
def test_misdeclared_target_is_refused_on_every_request(
    policy_file: PolicyFile,
    alice: User,
    caplog: pytest.LogCaptureFixture,
    view: Callable[..., Any],
    url: str,
    error: str,
) -> None:
    client = signed_in(alice)
    answers = []
    entries = []
    for _ in range(3):
        caplog.clear()
        response = client.get(f"{url}{alice.pk}/")
        authz = response.wsgi_request.authz  # type: ignore[attr-defined]
        answers.append((response.status_code, authz.allowed, authz.decision.error))
        assert "authzguard denied" in caplog.text
        entries.append(prepared_entry(view))
    status, allowed, message = answers[0]
    assert (status, allowed) == (403, False)
    assert message is not None and message.startswith(f"{error}:")
    assert answers == [answers[0]] * 3
    # The memo stored "no plan" once and parse_target raised the error each time.
    assert entries[0].target is None
    assert all(entry is entries[0] for entry in entries)
    assert not ViewCall.objects.exists()
