"""resolve → decide → audit: the one path every Django adapter goes through.

The middleware, the decorator, the class-based-view mixin and the DRF permission all
call :func:`evaluate` (through :mod:`authzguard.enforcement`, or the DRF permission), so
the rules below hold everywhere:

1. the HTTP method is checked first: a method the action does not declare is a 405
   before any query (override headers and ``_method`` fields are never read);
2. the target parameter is extracted and validated (400) before any query;
3. a subject that no ``allow`` rule could cover for this action and kind is denied
   before the lookup, so such a subject learns nothing about which objects exist;
4. the target is looked up (404 for no such object, 400 for several) and the policy
   decides on its attributes;
5. any other exception is a deny, never an allow;
6. exactly one audit record is written per evaluation.

:mod:`authzguard.denial` turns a refused :class:`Outcome` into HTTP.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from django.core.exceptions import BadRequest, SuspiciousOperation, ValidationError
from django.http import Http404, HttpRequest

from authzguard import audit, runtime
from authzguard.attributes import AttributePlan, plan_attributes
from authzguard.audit_record import decision_record
from authzguard.conf import settings
from authzguard.exceptions import AmbiguousTarget, ParameterError, TargetNotFound
from authzguard.outage import is_outage
from authzguard.policy.facts import Facts, subject_from_facts
from authzguard.policy.model import (
    Action,
    Decision,
    Resource,
    ResourceKind,
    Subject,
    TargetSpec,
)
from authzguard.resolvers import (
    ResolvedTarget,
    Resolver,
    TargetParser,
    TargetPlan,
    TargetQuery,
    call_resolver,
    check_kind_model,
    fetch_target,
    parse_target,
    plan_target,
)
from authzguard.subjects import facts_for, subject_for

if TYPE_CHECKING:
    from authzguard.policy import CompiledPolicy

logger = logging.getLogger("authzguard")

Status = Literal[
    "allow", "deny", "bad_request", "ambiguous", "not_found", "method_not_allowed", "unavailable"
]
Origin = Literal["decorator", "route", "mixin", "drf", "default"]

#: The methods that show a list (``listing``): every other one is decided in full.
_READS = frozenset({"GET", "HEAD"})

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


@dataclass(frozen=True, slots=True)
class Binding:
    """What a view does to which object: declared by a decorator, a mixin or a ``routes:`` entry."""

    action: str
    resource: str
    target: TargetSpec | None = None
    #: A custom resolver given directly as a callable (decorator or mixin).
    resolver: Resolver | None = None
    origin: Origin = "decorator"
    #: GET and HEAD show the form that submits ``action`` (Django's form and deletion
    #: views, whose GET handlers cannot change state): decided without the method check.
    form_display: bool = False
    #: A list filtered by the policy (``AuthorizedListMixin``): its GET and HEAD run for
    #: any subject an allow rule could cover, and show only the objects it allows.
    listing: bool = False


@dataclass(slots=True)
class Authorization:
    """The outcome of the check, available to the view as ``request.authz``."""

    action: str
    resource: str
    subject: Subject
    decision: Decision
    request_id: str
    binding: Binding | None
    #: The authorized object: use it instead of re-reading the raw parameter.
    target: Any = None
    target_id: Any = None
    parameter: str | None = None
    source: str | None = None
    #: Under ``AUTHZGUARD_AUDIT_ATTRIBUTES``: the facts and target attributes decided on.
    facts: Facts | None = None
    attributes: Mapping[str, object] | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed and self.decision.error is None


@dataclass(slots=True)
class Outcome:
    """What :func:`evaluate` concluded; :mod:`authzguard.denial` turns it into HTTP."""

    status: Status
    authz: Authorization
    #: For 405s: the methods the action accepts.
    allowed_methods: tuple[str, ...] = ()
    #: ``True`` when the binding names a target (so hiding existence matters).
    targeted: bool = False
    #: ``True`` once a lookup ran: the outcome may depend on whether the target exists.
    looked_up: bool = False
    message: str = ""
    #: The audit record as written; empty when the audit logger is not enabled for INFO.
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.status == "allow"


def _header_key() -> str:
    """The ``META`` key of ``AUTHZGUARD_REQUEST_ID_HEADER`` (``""`` when there is none)."""
    header = settings.REQUEST_ID_HEADER
    # META directly: request.headers builds a dict of every header on first use.
    return "HTTP_" + header.upper().replace("-", "_") if header else ""


def request_id(request: HttpRequest, header_key: str | None = None) -> str:
    """The request's id: a well-formed ``X-Request-ID`` header, else a fresh one.

    ``header_key`` is the header's ``META`` key when the caller already knows it.
    """
    existing: str | None = getattr(request, "_authzguard_request_id", None)
    if existing is None:
        key = _header_key() if header_key is None else header_key
        given = request.META.get(key, "") if key else ""
        # 128 random bits as 32 hex digits. An id needs to be unique, not secret (a client
        # may send its own): a seeded generator serves.
        existing = given if given and _REQUEST_ID.fullmatch(given) else _new_request_id()
        request._authzguard_request_id = existing  # type: ignore[attr-defined]
    return existing


#: Request ids come from a generator of their own: reseeding the global ``random`` (an
#: application, a test plugin) must never make two ids equal. Reseeded in forked children.
_ids = random.Random()  # noqa: S311 - ids must be unique, not unpredictable
os.register_at_fork(after_in_child=_ids.seed)


def _new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


def allowed_methods(action: Action) -> tuple[str, ...]:
    """The HTTP methods ``action`` answers; HEAD goes wherever GET does."""
    if action.methods is not None:
        methods = tuple(m.upper() for m in action.methods)
    elif action.safe:
        methods = ("GET", "HEAD")
    else:
        methods = tuple(settings.STATE_CHANGING_METHODS)
    if "GET" in methods and "HEAD" not in methods:
        methods += ("HEAD",)
    return methods


# -- what a binding needs, worked out once per policy ---------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What :func:`evaluate` needs from one binding under one policy."""

    kind: ResourceKind
    #: ``None`` when the methods come from ``AUTHZGUARD_STATE_CHANGING_METHODS``: read
    #: at use, as every setting is.
    methods: tuple[str, ...] | None
    #: ``None`` without a declarative target, or when it is misdeclared (then
    #: :func:`parse_target` raises the error where it would without a plan: an unknown
    #: model before the parameter is read, an unknown field after its 400s).
    target: TargetPlan | None
    attributes: AttributePlan


def _prepare(policy: CompiledPolicy, binding: Binding) -> _Prepared:
    action = policy.action(binding.resource, binding.action)
    kind = policy.policy.resources[binding.resource]
    methods = allowed_methods(action) if action.methods is not None or action.safe else None
    plan: TargetPlan | None = None
    spec = binding.target
    if spec is not None and not _is_custom(binding) and spec.param:
        try:
            plan = plan_target(spec, kind)
        except Exception:  # misdeclared: parse_target raises it again, in its own order
            plan = None
    return _Prepared(kind, methods, plan, plan_attributes(policy.policy, kind, binding.action))


#: Preparations kept per policy. A view declares one binding and a ``routes:`` entry has
#: one, so only bindings built per request (unusual) ever reach the bound.
PREPARED_BINDINGS = 1024


class _PolicyMemo:
    """What :func:`evaluate` works out once per policy. A reload, or any ``AUTHZGUARD_*``
    settings change (which resets the policy, see ``runtime``), brings a new policy
    object, hence a new memo; a thread still deciding under the old one keeps its own."""

    __slots__ = ("header_key", "policy", "prepare")

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.header_key = _header_key()
        self.prepare = lru_cache(maxsize=PREPARED_BINDINGS)(partial(_prepare, policy))


_memo: _PolicyMemo | None = None


def _memo_for(policy: CompiledPolicy) -> _PolicyMemo:
    global _memo
    memo = _memo
    if memo is None or memo.policy is not policy:
        memo = _memo = _PolicyMemo(policy)
    return memo


# -- evaluation ---------------------------------------------------------------------------

_NOT_EVALUATED = Decision(allowed=False, rule=None, reason="not evaluated")
_NOBODY = Subject()
_NO_ATTRIBUTES: Mapping[str, object] = MappingProxyType({})


@dataclass(slots=True)
class _Evaluation:
    """One request's evaluation, handed from step to step."""

    request: HttpRequest
    binding: Binding
    view_kwargs: Mapping[str, Any]
    user: Any
    parser: TargetParser
    outcome: Outcome
    policy: CompiledPolicy | None = None
    memo: _PolicyMemo | None = None

    @property
    def authz(self) -> Authorization:
        return self.outcome.authz


def evaluate(
    request: HttpRequest,
    binding: Binding,
    view_kwargs: Mapping[str, Any],
    *,
    user: Any = None,
    refuse: str | None = None,
    refused_status: Literal["deny", "method_not_allowed"] = "deny",
    parser: TargetParser = parse_target,
) -> Outcome:
    """Decide whether ``request`` may run a view bound by ``binding``. Never raises.

    ``user`` overrides ``request.user`` (DRF authenticates inside the view); ``refuse``
    denies outright with that reason and ``refused_status`` (unbound views), still
    audited; ``parser`` reads the target parameter (DRF: its URL kwarg only).
    """
    started = time.perf_counter()
    authz = Authorization(
        action=binding.action,
        resource=binding.resource,
        subject=_NOBODY,
        decision=_deny(refuse) if refuse else _NOT_EVALUATED,
        request_id="",
        binding=binding,
    )
    outcome = Outcome("deny", authz, targeted=binding.target is not None)
    user = getattr(request, "user", None) if user is None else user
    evaluation = _Evaluation(request, binding, view_kwargs, user, parser, outcome)
    try:
        if refuse is not None:
            authz.subject = _bare_subject(user)
            outcome.status = refused_status
        else:
            _run_steps(evaluation)
    except Exception as exc:  # fail closed: any error is a deny, never an allow
        _refuse_for(evaluation, exc)
    finally:
        _finish(evaluation, started)
    return outcome


def _run_steps(ev: _Evaluation) -> None:
    """The checks in order; a step that refuses ends the evaluation."""
    ev.policy = runtime.get_policy()
    ev.memo = _memo_for(ev.policy)
    prepared = ev.memo.prepare(ev.binding)
    if not _method_accepted(ev, prepared):
        return
    query = _parse_parameter(ev, prepared)
    subject = _subject(ev, ev.policy)
    if not _could_allow(ev, ev.policy, subject, query):
        return
    if ev.binding.listing and ev.request.method in _READS:
        # Only showing the list is narrowed row by row; any other method (a create
        # posted to the list) is decided in full, on the kind alone.
        ev.authz.decision = Decision(True, None, "allowed: a list filtered by the policy")
        ev.outcome.status = "allow"
        return
    target = _resolve(ev, prepared, query)
    _decide(ev, ev.policy, subject, _attributes(ev, prepared.attributes, target))


def _method_accepted(ev: _Evaluation, prepared: _Prepared) -> bool:
    """A method the action does not declare is a 405, before any query."""
    methods = prepared.methods
    if methods is None:
        methods = allowed_methods(prepared.kind.actions[ev.binding.action])
    if ev.request.method in methods:
        return True
    if ev.binding.form_display and ev.request.method in ("GET", "HEAD"):
        return True
    ev.outcome.status, ev.outcome.allowed_methods = "method_not_allowed", methods
    ev.authz.decision = _deny(f"method {ev.request.method} not allowed for {ev.binding.action}")
    if audit.enabled():
        # Who was refused, for the record: request.user without roles (no group query).
        # Nobody listening, a 405 stays free of queries.
        ev.authz.subject = _bare_subject(ev.user)
    return False


def _parse_parameter(ev: _Evaluation, prepared: _Prepared) -> TargetQuery | None:
    """The declarative target's parameter, validated before anything reaches the database."""
    spec = ev.binding.target
    if spec is None or _is_custom(ev.binding):
        return None
    query = ev.parser(ev.request, spec, prepared.kind, ev.view_kwargs, prepared.target)
    ev.authz.parameter, ev.authz.source = query.parameter, query.source
    return query


def _subject(ev: _Evaluation, policy: CompiledPolicy) -> Subject:
    # Groups are read here, before any lookup, whenever a group-granted role could change
    # a decision on this pair (known at compile time): a caller's queries never depend
    # on the target.
    if settings.AUDIT_ATTRIBUTES:
        # The record carries every fact a candidate policy could use: groups included.
        ev.authz.facts = facts_for(ev.user)
        subject = subject_from_facts(policy, ev.authz.facts)
    else:
        subject = subject_for(ev.user, policy, kind=ev.binding.resource, action=ev.binding.action)
    ev.authz.subject = subject
    return subject


def _could_allow(
    ev: _Evaluation, policy: CompiledPolicy, subject: Subject, query: TargetQuery | None
) -> bool:
    """Deny before the lookup a subject no allow rule could cover: it learns nothing."""
    binding = ev.binding
    if policy.could_allow(subject, binding.action, binding.resource):
        return True
    if query is not None and query.field == "pk":
        ev.authz.target_id = query.value
    ev.authz.decision = _deny(
        f"no allow rule covers {binding.action} on {binding.resource} for this subject"
    )
    return False


def _resolve(
    ev: _Evaluation, prepared: _Prepared, query: TargetQuery | None
) -> ResolvedTarget | None:
    """The target: looked up (404 if none, 400 if several), or a custom resolver's.

    With existence hidden, a missing object costs the queries of its to-many attributes.
    """
    ev.outcome.looked_up = query is not None or _is_custom(ev.binding)
    try:
        if query is not None:
            return fetch_target(query, prepared.kind)
        if _is_custom(ev.binding):
            spec = ev.binding.target or TargetSpec()
            found = call_resolver(ev.request, spec, ev.binding.resolver, ev.view_kwargs)
            check_kind_model(found.obj, prepared.kind)
            return found
    except (TargetNotFound, Http404):
        if settings.HIDE_EXISTENCE:
            prepared.attributes.read_nothing()
        raise
    return None


def _attributes(
    ev: _Evaluation, plan: AttributePlan, target: ResolvedTarget | None
) -> Mapping[str, object]:
    if target is None:
        return _NO_ATTRIBUTES
    authz = ev.authz
    authz.target, authz.target_id = target.obj, target.target_id
    authz.parameter, authz.source = target.parameter, target.source
    authz.attributes = plan.read(target.obj)
    return authz.attributes


def _decide(
    ev: _Evaluation, policy: CompiledPolicy, subject: Subject, attributes: Mapping[str, object]
) -> None:
    resource = Resource(ev.binding.resource, attributes)
    decision = policy.decide(subject, ev.binding.action, resource)
    ev.authz.decision = decision
    if decision.allowed and decision.error is None:
        ev.outcome.status = "allow"


def _refuse_for(ev: _Evaluation, exc: Exception) -> None:
    """The refusal an exception from a step stands for; anything unexpected is a deny."""
    outcome, authz = ev.outcome, ev.authz
    if isinstance(exc, (TargetNotFound, Http404)):
        outcome.status, outcome.message = "not_found", str(exc)
        authz.decision = _deny(f"no such object: {exc}")
        return
    if isinstance(exc, AmbiguousTarget):
        outcome.status, outcome.message = "ambiguous", str(exc)
        authz.decision = _deny(f"ambiguous target: {exc}")
        return
    if isinstance(exc, ParameterError):
        outcome.status, outcome.message = "bad_request", str(exc)
        authz.parameter = authz.parameter or exc.parameter
        authz.decision = _deny(f"bad request: {exc}")
    elif isinstance(exc, (BadRequest, ValidationError, SuspiciousOperation)):
        # From a custom resolver: Django's own "bad request" exceptions.
        outcome.status, outcome.message = "bad_request", "malformed target parameter"
        authz.decision = _deny(f"bad request: {type(exc).__name__}: {exc}")
    else:
        logger.exception("authzguard denied %s because of an error", ev.request.path)
        outcome.status = "unavailable" if is_outage(exc) else "deny"  # 503: try again
        authz.decision = _deny("error during authorization", error=f"{type(exc).__name__}: {exc}")
    if authz.subject.id is None:
        # Still tell a signed-in user "forbidden" (or "bad request"), not "sign in".
        authz.subject = _bare_subject(ev.user)


def _finish(ev: _Evaluation, started: float) -> None:
    """Withhold an unauthorized object, give the request its id, write the one record."""
    outcome = ev.outcome
    if outcome.status != "allow":
        # Never hand a view (or a later reader) an object that was not authorized.
        outcome.authz.target = None
    header_key = ev.memo.header_key if ev.memo is not None else None
    outcome.authz.request_id = request_id(ev.request, header_key)
    outcome.record = decision_record(ev.request, outcome, ev.policy, time.perf_counter() - started)


def _is_custom(binding: Binding) -> bool:
    """Whether a resolver, not a declarative lookup, finds the binding's target."""
    spec = binding.target
    return binding.resolver is not None or bool(spec is not None and spec.resolver)


def _bare_subject(user: Any) -> Subject:
    """Who is asking, without roles: enough to choose between login redirect and 403."""
    try:
        if user is not None and user.is_authenticated:
            return Subject(id=user.pk, username=user.get_username(), authenticated=True)
    except Exception:
        logger.exception("authzguard could not read request.user")
    return Subject.anonymous()


def _deny(reason: str, error: str | None = None) -> Decision:
    return Decision(allowed=False, rule=None, reason=reason, error=error)
