"""A backing service that cannot be reached answers 503 with ``Retry-After``, never 500.

While the database or Redis is down, authzguard cannot tell who is signed in or what
the target is, so it cannot allow anything; nor is the request wrong. The honest answer
is "try again shortly": 503 with ``Retry-After`` (``AUTHZGUARD_RETRY_AFTER``).

- the guard (resolve → decide) turns such an error into an ``unavailable`` refusal;
- ``SessionIndexMiddleware`` answers 503 when it cannot read the index, without ending
  the session;
- :class:`ServiceUnavailableMiddleware`, placed first in ``MIDDLEWARE``, turns the 500
  that any other layer (a view, ``SessionMiddleware`` saving to Redis) would answer for
  such an error into the same 503.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from authzguard.conf import settings
from authzguard.exceptions import AuthzGuardError

#: How far down ``__cause__``/``__context__`` an outage is looked for (wrappers re-raise).
_CHAIN_DEPTH = 8
_OUTAGE_ATTR = "_authzguard_outage"


class ServiceUnavailable(AuthzGuardError):
    """A backing service could not answer, seen by authzguard itself (e.g. a session
    store that holds a session but did not give it back)."""


@lru_cache(maxsize=1)
def _redis_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # redis is an optional extra
        return ()
    return (RedisConnectionError, RedisTimeoutError)


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps) says a database or Redis cannot be reached now.

    Django's ``OperationalError`` and ``InterfaceError`` (a lost or refused connection, a
    server shutting down or starting up) and Redis's connection and timeout errors.
    """
    outage: tuple[type[BaseException], ...] = (
        OperationalError,
        InterfaceError,
        ServiceUnavailable,
        *_redis_errors(),
    )
    for _ in range(_CHAIN_DEPTH):
        if exc is None:
            return False
        if isinstance(exc, outage):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def service_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 of an outage: JSON for clients that want it, plain text otherwise."""
    from authzguard.denial import wants_json

    body = {"error": "service_unavailable", "detail": "Try again shortly."}
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(body, status=503)
    else:
        response = HttpResponse(
            "Service temporarily unavailable. Try again shortly.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = str(settings.RETRY_AFTER)
    return response


def _note_outage(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Sent by Django's handler while it turns an exception into a 500: the exception is
    # the one being handled.
    if request is not None and is_outage(sys.exc_info()[1]):
        setattr(request, _OUTAGE_ATTR, True)


class ServiceUnavailableMiddleware(MiddlewareMixin):
    """Answer 503 with ``Retry-After`` instead of the 500 of an unreachable database or Redis.

    Place it first in ``MIDDLEWARE``: Django turns an exception into a 500 inside the
    layer that raised it, so only layers below this one are covered.
    """

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        got_request_exception.connect(_note_outage, dispatch_uid="authzguard.outage")

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if response.status_code == 500 and getattr(request, _OUTAGE_ATTR, False):
            return service_unavailable(request)
        return response
