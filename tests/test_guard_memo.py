"""The guard's per-binding memo: worked out once per binding and policy, never stale.

``authzguard.guard`` remembers what a binding needs from the policy (the resource kind,
the accepted methods, the target plan) per policy object, for at most
``guard.PREPARED_BINDINGS`` bindings. These tests drive real requests through
``@authorize`` views, count the target plans worked out (each asks
``resolvers.target_model`` once), and check that the memo is reused under one policy,
replaced when the policy is (a reused memo must never decide under a new policy),
bounded, and that a misdeclared target fails the same way on every request.
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

from authzguard import guard, resolvers, runtime
from authzguard.decorators import authorize, make_binding
from authzguard.enforcement import enforce
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
    """Distinct bindings (each its own max_length): even ones read (GET), odd ones touch."""
    action = "read" if n % 2 == 0 else "touch"

    @authorize(action, "thing", target="id", source="path", max_length=100 + n)
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


class Plans:
    """The target plans worked out, by parameter and model label."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[tuple[str | None, str | None]] = []
        original = resolvers.target_model

        def counting(spec: Any, kind: Any) -> Any:
            self.made.append((spec.param, kind.model if kind is not None else None))
            return original(spec, kind)

        monkeypatch.setattr(resolvers, "target_model", counting)

    def __len__(self) -> int:
        return len(self.made)


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> Plans:
    return Plans(monkeypatch)


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
    policy_file: PolicyFile, alice: User, bob: User, plans: Plans
) -> None:
    client = signed_in(alice)
    first = client.get(f"/read/{alice.pk}/")
    assert first.status_code == 200
    assert first.content == f"User:{alice.pk}".encode()
    # Another request, another user object, another answer: the same preparation.
    assert client.get(f"/read/{bob.pk}/").status_code == 403
    assert client.head(f"/read/{alice.pk}/").status_code == 200
    assert plans.made == [("id", "auth.User")]
    assert list(ViewCall.objects.values_list("view", "target")) == [
        ("read_thing", str(alice.pk)),
        ("read_thing", str(alice.pk)),
    ]


def test_each_binding_gets_its_own_preparation(
    policy_file: PolicyFile, alice: User, plans: Plans
) -> None:
    client = signed_in(alice)
    assert client.get(f"/read/{alice.pk}/").status_code == 200
    assert client.put(f"/touch/{alice.pk}/").status_code == 200
    assert client.put(f"/read/{alice.pk}/")["Allow"] == "GET, HEAD"
    assert client.get(f"/touch/{alice.pk}/")["Allow"] == "PUT"
    assert len(plans) == 2


# -- (b) a new policy brings a fresh preparation that follows it ----------------------------


@pytest.mark.parametrize("how", ["reload", "reset"])
def test_changed_methods_take_effect_on_the_next_request(
    policy_file: PolicyFile, alice: User, how: str, plans: Plans
) -> None:
    client = signed_in(alice)
    url = f"/touch/{alice.pk}/"
    refused = client.post(url)
    assert refused.status_code == 405
    assert refused["Allow"] == "PUT"
    assert client.put(url).status_code == 200
    old_policy = runtime.get_policy()
    assert len(plans) == 1

    policy_file.swap(policy_text(touch_method="POST"), how)

    # The stale memo would answer 405 to the POST and run the view for the PUT.
    assert client.post(url).status_code == 200
    refused = client.put(url)
    assert refused.status_code == 405
    assert refused["Allow"] == "POST"
    assert runtime.get_policy() is not old_policy
    assert len(plans) == 2  # worked out again, once, under the new policy
    assert list(ViewCall.objects.values_list("view", flat=True)) == ["touch_thing"] * 2


@pytest.mark.parametrize("how", ["reload", "reset"])
def test_changed_model_takes_effect_on_the_next_request(
    policy_file: PolicyFile, alice: User, bob: User, how: str, plans: Plans
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

    policy_file.swap(policy_text(model="testapp.Note", owner_field="owner.pk"), how)

    # A stale plan would still fetch users (and allow alice her own account).
    assert client.get(mine).status_code == 403
    response = client.get(theirs)
    assert response.status_code == 200
    assert response.content == f"Note:{bob.pk}".encode()

    # And back: the memo follows every swap, not just the first.
    policy_file.swap(policy_text(), how)
    assert client.get(mine).content == f"User:{alice.pk}".encode()
    assert client.get(theirs).status_code == 403
    assert plans.made == [("id", "auth.User"), ("id", "testapp.Note"), ("id", "auth.User")]


def test_target_misdeclared_under_the_old_policy_works_under_the_new(
    policy_file: PolicyFile, alice: User
) -> None:
    policy_file.swap(policy_text(model=None), "reset")
    client = signed_in(alice)
    url = f"/read/{alice.pk}/"
    # No model anywhere: every request is refused.
    assert client.get(url).status_code == 403
    assert client.get(url).status_code == 403

    policy_file.swap(policy_text(), "reload")

    response = client.get(url)
    assert response.status_code == 200
    assert response.content == f"User:{alice.pk}".encode()


def test_state_changing_methods_setting_is_followed(policy_file: PolicyFile, alice: User) -> None:
    # ``poke`` names no methods: they come from AUTHZGUARD_STATE_CHANGING_METHODS.
    client = signed_in(alice)
    url = f"/poke/{alice.pk}/"
    assert client.post(url).status_code == 200
    assert client.patch(url).status_code == 405
    with override_settings(AUTHZGUARD_STATE_CHANGING_METHODS=["PATCH"]):
        assert client.patch(url).status_code == 200
        refused = client.post(url)
        assert refused.status_code == 405
        assert refused["Allow"] == "PATCH"
    assert client.post(url).status_code == 200
    assert client.patch(url).status_code == 405


# -- (c) the memo is bounded ----------------------------------------------------------------


def test_memo_stays_bounded_over_many_bindings(
    policy_file: PolicyFile,
    alice: User,
    bob: User,
    monkeypatch: pytest.MonkeyPatch,
    plans: Plans,
) -> None:
    monkeypatch.setattr(guard, "PREPARED_BINDINGS", 3)
    policy_file.swap(policy_text(touch_method="POST"), "reset")
    client = signed_in(alice)
    for _ in range(2):  # the second round re-prepares bindings dropped by the first
        for n in range(len(MANY)):
            url = f"/many/{n}/"
            good, wrong = (client.get, client.post) if n % 2 == 0 else (client.post, client.get)
            response = good(f"{url}{alice.pk}/")
            assert response.status_code == 200, n
            assert response.content == f"User:{alice.pk}".encode()
            assert good(f"{url}{bob.pk}/").status_code == 403, n
            assert wrong(f"{url}{alice.pk}/").status_code == 405, n
    # Three requests per binding and round, one preparation each while it was kept; an
    # unbounded memo would have prepared each binding once.
    assert len(plans) == 2 * len(MANY)
    assert ViewCall.objects.count() == 2 * len(MANY)


def test_bindings_built_per_request_share_one_preparation(
    policy_file: PolicyFile, alice: User, bob: User, plans: Plans
) -> None:
    client = signed_in(alice)
    for i in range(10):
        user = alice if i % 2 == 0 else bob
        assert client.get(f"/per-request/{user.pk}/").status_code == (200 if user is alice else 403)
    # Equal declarations are one binding as far as the memo goes.
    assert len(plans) == 1
    assert ViewCall.objects.count() == 5


# -- (d) a misdeclared target is refused the same way every time ----------------------------


@pytest.mark.parametrize(
    ("url", "error"),
    [("/missing-model/", "LookupError"), ("/missing-field/", "FieldDoesNotExist")],
)
def test_misdeclared_target_is_refused_on_every_request(
    policy_file: PolicyFile,
    alice: User,
    caplog: pytest.LogCaptureFixture,
    url: str,
    error: str,
) -> None:
    client = signed_in(alice)
    answers = []
    for _ in range(3):
        caplog.clear()
        response = client.get(f"{url}{alice.pk}/")
        authz = response.wsgi_request.authz  # type: ignore[attr-defined]
        answers.append((response.status_code, authz.allowed, authz.decision.error))
        assert "authzguard denied" in caplog.text
    status, allowed, message = answers[0]
    assert (status, allowed) == (403, False)
    assert message is not None and message.startswith(f"{error}:")
    assert answers == [answers[0]] * 3
    assert not ViewCall.objects.exists()
