"""resolve → decide → audit → deny: the one path every Django adapter goes through.

The middleware, the decorator, the class-based-view mixin and the DRF permission all
call :func:`evaluate` (sync; the async adapters run it through ``sync_to_async``), so
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
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from asgiref.sync import sync_to_async
from django.core.exceptions import BadRequest, SuspiciousOperation, ValidationError
from django.http import Http404, HttpRequest, HttpResponse

from authzguard import audit, denial, runtime
from authzguard.conf import settings
from authzguard.exceptions import AmbiguousTarget, ParameterError, TargetNotFound
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
    fetch_target,
    parse_target,
    plan_target,
    resource_attributes,
)
from authzguard.subjects import subject_for

if TYPE_CHECKING:
    from authzguard.policy import CompiledPolicy

logger = logging.getLogger("authzguard")

Status = Literal["allow", "deny", "bad_request", "ambiguous", "not_found", "method_not_allowed"]
Origin = Literal["decorator", "route", "mixin", "drf", "default"]

_CHECKED_ATTR = "_authzguard_checked"
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
        # may send its own): a seeded generator serves, without a system call per request.
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
    """What :func:`evaluate` needs from one binding under one policy, worked out once."""

    binding: Binding
    kind: ResourceKind
    #: ``None`` when the methods come from ``AUTHZGUARD_STATE_CHANGING_METHODS``: read
    #: at use, as every setting is.
    methods: tuple[str, ...] | None
    #: ``None`` without a declarative target, or when it is misdeclared (then
    #: :func:`parse_target` raises the error where it would without a plan: an unknown
    #: model before the parameter is read, an unknown field after its 400s).
    target: TargetPlan | None


class _PolicyCache:
    """Per-policy memo: a reload or any ``AUTHZGUARD_*`` settings change (which resets the
    policy, see ``runtime``) brings a new policy object, hence a fresh cache."""

    __slots__ = ("header_key", "policy", "prepared")

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.header_key = _header_key()
        #: ``id(binding)`` to its preparation; the entry holds the binding, so the id
        #: cannot be reused while the entry exists.
        self.prepared: dict[int, _Prepared] = {}


_PREPARED_LIMIT = 4096
_cache: _PolicyCache | None = None


def _policy_cache(policy: CompiledPolicy) -> _PolicyCache:
    global _cache
    cache = _cache
    if cache is None or cache.policy is not policy:
        # Readers on other threads may still use the old one: it stays valid for its policy.
        cache = _cache = _PolicyCache(policy)
    return cache


def _prepare(cache: _PolicyCache, binding: Binding) -> _Prepared:
    entry = cache.prepared.get(id(binding))
    if entry is not None and entry.binding is binding:
        return entry
    policy = cache.policy
    action = policy.action(binding.resource, binding.action)
    kind = policy.policy.resources[binding.resource]
    methods = allowed_methods(action) if action.methods is not None or action.safe else None
    plan: TargetPlan | None = None
    spec = binding.target
    if spec is not None and binding.resolver is None and not spec.resolver and spec.param:
        try:
            plan = plan_target(spec, kind)
        except Exception:  # misdeclared: parse_target raises it again, in its own order
            plan = None
    entry = _Prepared(binding, kind, methods, plan)
    if len(cache.prepared) >= _PREPARED_LIMIT:
        # Bindings built per request (unusual) must not grow the memo without bound.
        cache.prepared.clear()
    cache.prepared[id(binding)] = entry
    return entry


# -- evaluation ---------------------------------------------------------------------------

_NOT_EVALUATED = Decision(allowed=False, rule=None, reason="not evaluated")
_NOBODY = Subject()
_NO_ATTRIBUTES: Mapping[str, object] = MappingProxyType({})


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


def evaluate(
    request: HttpRequest,
    binding: Binding,
    view_kwargs: Mapping[str, Any],
    *,
    user: Any = None,
    target: ResolvedTarget | None = None,
    check_method: bool = True,
    refuse: str | None = None,
    refused_status: Literal["deny", "method_not_allowed"] = "deny",
    phase_one_only: bool = False,
    parser: TargetParser = parse_target,
) -> Outcome:
    """Decide whether ``request`` may run a view bound by ``binding``. Never raises.

    ``target`` skips resolution (the DRF permission passes the object DRF fetched);
    ``user`` overrides ``request.user`` (DRF authenticates inside the view);
    ``refuse`` denies outright with that reason (unbound views), still audited, with
    ``refused_status``; ``phase_one_only`` stops after the subject check (the object is
    decided later); ``parser`` reads the target parameter (DRF: its URL kwarg only).
    """
    started = time.perf_counter()
    if user is None:
        user = getattr(request, "user", None)
    authz = Authorization(
        action=binding.action,
        resource=binding.resource,
        subject=_NOBODY,
        decision=_deny(refuse) if refuse else _NOT_EVALUATED,
        request_id="",
        binding=binding,
    )
    outcome = Outcome("deny", authz, targeted=binding.target is not None or target is not None)
    policy: CompiledPolicy | None = None
    cache: _PolicyCache | None = None
    try:
        if refuse is not None:
            authz.subject = _bare_subject(user)
            outcome.status = refused_status
            return outcome
        policy = runtime.get_policy()
        cache = _policy_cache(policy)
        prepared = _prepare(cache, binding)
        methods = prepared.methods
        if methods is None:
            methods = allowed_methods(policy.action(binding.resource, binding.action))
        if check_method and request.method not in methods:
            outcome.status, outcome.allowed_methods = "method_not_allowed", methods
            authz.decision = _deny(f"method {request.method} not allowed for {binding.action}")
            if audit.enabled():
                # Who was refused, for the record: request.user without roles (no group
                # query). Nobody listening, a 405 stays free of queries.
                authz.subject = _bare_subject(user)
            return outcome
        kind = prepared.kind
        spec = binding.target
        custom = binding.resolver is not None or (spec is not None and spec.resolver)
        query: TargetQuery | None = None
        if target is None and spec is not None and not custom and not phase_one_only:
            # Malformed parameters are refused before anything reaches the database.
            query = parser(request, spec, kind, view_kwargs, prepared.target)
            authz.parameter, authz.source = query.parameter, query.source
        # Groups are read here, before any lookup, whenever a group-granted role could
        # change a decision on this pair: what a caller's queries show never depends on
        # the target.
        subject = subject_for(user, policy, kind=binding.resource, action=binding.action)
        authz.subject = subject
        if not policy.could_allow(subject, binding.action, binding.resource):
            if query is not None and query.field == "pk":
                authz.target_id = query.value
            authz.decision = _deny(
                f"no allow rule covers {binding.action} on {binding.resource} for this subject"
            )
            return outcome
        if phase_one_only:
            outcome.status = "allow"
            authz.decision = Decision(True, None, "an allow rule may apply; the object decides")
            return outcome
        if query is not None:
            outcome.looked_up = True
            target = fetch_target(query, kind)
        elif target is None and custom:
            outcome.looked_up = True
            target = call_resolver(request, spec or TargetSpec(), binding.resolver, view_kwargs)
        attributes: Mapping[str, object] = _NO_ATTRIBUTES
        if target is not None:
            authz.target, authz.target_id = target.obj, target.target_id
            authz.parameter, authz.source = target.parameter, target.source
            attributes = resource_attributes(target.obj, kind)
        resource = Resource(binding.resource, attributes)
        decision = policy.decide(subject, binding.action, resource)
        authz.decision = decision
        if decision.allowed and decision.error is None:
            outcome.status = "allow"
    except ParameterError as exc:
        outcome.status, outcome.message = "bad_request", str(exc)
        authz.parameter = authz.parameter or exc.parameter
        authz.decision = _deny(f"bad request: {exc}")
        if authz.subject.id is None:
            authz.subject = _bare_subject(user)
    except (BadRequest, ValidationError, SuspiciousOperation) as exc:
        # From a custom resolver: Django's own "bad request" exceptions.
        outcome.status, outcome.message = "bad_request", "malformed target parameter"
        authz.decision = _deny(f"bad request: {type(exc).__name__}: {exc}")
        if authz.subject.id is None:
            authz.subject = _bare_subject(user)
    except (TargetNotFound, Http404) as exc:
        outcome.status, outcome.message = "not_found", str(exc)
        authz.decision = _deny(f"no such object: {exc}")
    except AmbiguousTarget as exc:
        outcome.status, outcome.message = "ambiguous", str(exc)
        authz.decision = _deny(f"ambiguous target: {exc}")
    except Exception as exc:  # fail closed: any error is a deny, never an allow
        logger.exception("authzguard denied %s because of an error", request.path)
        if authz.subject.id is None:
            # Still tell a signed-in user "forbidden", not "sign in".
            authz.subject = _bare_subject(user)
        outcome.status = "deny"
        authz.decision = _deny("error during authorization", error=f"{type(exc).__name__}: {exc}")
    finally:
        if outcome.status != "allow":
            # Never hand a view (or a later reader) an object that was not authorized.
            authz.target = None
        authz.request_id = request_id(request, cache.header_key if cache is not None else None)
        if not (phase_one_only and outcome.status == "allow"):
            # A phase-one pass is not a decision: the object check writes the record.
            outcome.record = _audit(request, outcome, policy, time.perf_counter() - started)
    return outcome


def _audit(
    request: HttpRequest, outcome: Outcome, policy: CompiledPolicy | None, elapsed: float
) -> dict[str, Any]:
    if not audit.enabled():
        # Nobody listens: skip building the record (its JSON is only made when written).
        return {}
    authz = outcome.authz
    match = getattr(request, "resolver_match", None)
    try:
        return audit.emit(
            "decision",
            {
                "request_id": authz.request_id,
                "method": request.method,
                "view": match.view_name if match is not None else None,
                "subject": authz.subject.id,
                "authenticated": authz.subject.authenticated,
                "roles": sorted(authz.subject.roles),
                "action": authz.action,
                "resource": authz.resource,
                "target_id": authz.target_id,
                "parameter": authz.parameter,
                "source": authz.source,
                "decision": "allow" if outcome.status == "allow" else "deny",
                "status": outcome.status,
                "rule": authz.decision.rule,
                "reason": authz.decision.reason,
                "error": authz.decision.error,
                "policy_version": policy.version if policy is not None else None,
                "latency_ms": round(elapsed * 1000, 3),
            },
        )
    except Exception:
        # An audit failure must not turn a deny into an error page that skips the deny.
        logger.exception("authzguard could not write the audit record")
        return {}


def checked_outcome(request: HttpRequest, binding: Binding | None) -> Outcome | None:
    """The outcome of this request's earlier check for ``binding``, if it had one."""
    checked: tuple[Binding | None, Outcome] | None = getattr(request, _CHECKED_ATTR, None)
    if checked is None or checked[0] is not binding:
        return None
    return checked[1]


def was_checked(request: HttpRequest) -> bool:
    """Whether any authzguard check already ran for this request."""
    return hasattr(request, _CHECKED_ATTR)


def mark_checked(request: HttpRequest, binding: Binding | None, outcome: Outcome) -> None:
    setattr(request, _CHECKED_ATTR, (binding, outcome))


def check(request: HttpRequest, binding: Binding, view_kwargs: MutableMapping[str, Any]) -> Outcome:
    """Evaluate, record the result on the request (``request.authz``) and mark it checked.

    On allow with ``pass_as``, the authorized object is put into ``view_kwargs``.
    """
    outcome = evaluate(request, binding, view_kwargs)
    request.authz = outcome.authz  # type: ignore[attr-defined]
    mark_checked(request, binding, outcome)
    if outcome.allowed:
        inject_target(request, binding, view_kwargs)
    return outcome


def inject_target(
    request: HttpRequest, binding: Binding, view_kwargs: MutableMapping[str, Any]
) -> None:
    """Hand the authorized object to the view under ``pass_as`` (opt-in)."""
    pass_as = binding.target.pass_as if binding.target is not None else None
    authz: Authorization | None = getattr(request, "authz", None)
    if pass_as and authz is not None and authz.allowed:
        view_kwargs[pass_as] = authz.target


def enforce(
    request: HttpRequest, binding: Binding, view_kwargs: MutableMapping[str, Any]
) -> HttpResponse | None:
    """Check ``request`` once for ``binding``: ``None`` to run the view, else the denial.

    Denials that Django renders itself (400, 403, 404) are raised as its exceptions.
    """
    outcome = checked_outcome(request, binding)
    if outcome is not None:
        # The middleware already decided for this very binding: do not decide twice.
        if outcome.allowed:
            inject_target(request, binding, view_kwargs)
    else:
        outcome = check(request, binding, view_kwargs)
    if outcome.allowed:
        return None
    return denial.respond(request, outcome)


_enforce_in_thread = sync_to_async(enforce, thread_sensitive=True)


async def aenforce(
    request: HttpRequest, binding: Binding, view_kwargs: MutableMapping[str, Any]
) -> HttpResponse | None:
    """:func:`enforce` for async views: the same code, in a thread where the ORM may run."""
    outcome = checked_outcome(request, binding)
    if outcome is not None and outcome.allowed:
        # Already allowed by the middleware: no thread hop needed to say so again.
        inject_target(request, binding, view_kwargs)
        return None
    return await _enforce_in_thread(request, binding, view_kwargs)
