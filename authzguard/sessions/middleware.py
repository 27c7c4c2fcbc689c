"""``SessionIndexMiddleware``: only indexed sessions (or current-generation cookies) sign in.

Place it right after ``django.contrib.auth.middleware.AuthenticationMiddleware``. On each
signed-in request it checks one row: the session's index row (server-side engines) or the
user's session generation (``signed_cookies``). A session without one is made anonymous,
which is what makes a purge final even when a store entry outlives it (a per-process cache,
a response that re-saves a session being deleted concurrently). In the response phase it
follows key rotations (``cycle_key``) so the index stays exact.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone
from django.utils.deprecation import MiddlewareMixin

from authzguard import audit
from authzguard.conf import settings
from authzguard.models import IndexedSession
from authzguard.outage import ServiceUnavailable, is_outage, service_unavailable
from authzguard.sessions.engines import get_engine
from authzguard.sessions.generations import GENERATION_SESSION_KEY, current_generation
from authzguard.sessions.index import forget_session, rekey_session, touch_session

_current_request: ContextVar[HttpRequest | None] = ContextVar(
    "authzguard_session_request", default=None
)


def current_request() -> HttpRequest | None:
    """The request this middleware is processing in this context, if any."""
    return _current_request.get()


class SessionIndexMiddleware(MiddlewareMixin):
    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        _current_request.set(request)
        try:
            self._check(request)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The index or the store cannot be read: neither sign the session in nor end
            # it (a 500 would, by deleting the cookie of a session that loaded empty).
            _keep_session_cookie(request)
            return service_unavailable(request)
        return None

    def _check(self, request: HttpRequest) -> None:
        session = request.session
        user_pk = session.get(SESSION_KEY)
        if user_pk is None:
            _probe_unloaded_session(request)
            return
        engine = get_engine()
        if not engine.indexed:
            if session.get(GENERATION_SESSION_KEY, 0) != current_generation(user_pk):
                self._refuse(request, user_pk, "old_generation")
            return
        key = session.session_key
        row = (
            IndexedSession.objects.filter(session_key=key)
            .values_list("pk", "user_id", "last_seen")
            .first()
        )
        if row is None or str(row[1]) != user_pk:
            # Ended (purged, user deleted) or never indexed: fail closed.
            self._refuse(request, user_pk, "not_indexed")
            return
        request._authzguard_session_key = key  # type: ignore[attr-defined]
        if row[2] < timezone.now() - timedelta(seconds=settings.SESSION_TOUCH_INTERVAL):
            touch_session(row[0], request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        # set(None) rather than reset(token): under ASGI the two phases run in different
        # copies of the context, where a token from the other one is refused.
        _current_request.set(None)
        start_key: str | None = getattr(request, "_authzguard_session_key", None)
        if start_key is None:
            return response
        session = request.session
        new_key = session.session_key
        if new_key == start_key:
            return response
        try:
            self._follow_key(request, start_key, new_key)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The new key is not indexed, so the middleware refuses it: sign in again.
            return service_unavailable(request)
        return response

    def _follow_key(self, request: HttpRequest, start_key: str, new_key: str | None) -> None:
        session = request.session
        if new_key is not None and session.get(SESSION_KEY) is not None:
            # cycle_key() during the request (login, update_session_auth_hash, the app).
            if not rekey_session(start_key, new_key):
                # Ended while this request ran: the new key must not outlive the old one.
                self._refuse(request, str(session[SESSION_KEY]), "not_indexed")
        else:
            forget_session(start_key)

    def _refuse(self, request: HttpRequest, user_pk: str, reason: str) -> None:
        request.session.flush()
        request.user = AnonymousUser()
        audit.emit("session.refused", {"user": user_pk, "reason": reason, "path": request.path})


def _probe_unloaded_session(request: HttpRequest) -> None:
    """Tell "no such session" from "the store could not be read" for the cache engine.

    Its ``load()`` reads any error (an unreachable Redis) as "no such session", and the
    response would then delete the cookie: a lost session. So when a cookie's session
    loads empty, ask the store again: an error, or a session that is there after all
    (the store came back meanwhile), is an outage. A session really gone costs this one
    lookup, once (the response deletes its cookie).
    """
    key = request.COOKIES.get(django_settings.SESSION_COOKIE_NAME)
    if not key or request.session.session_key is not None or get_engine().name != "cache":
        return
    if request.session.exists(key):
        raise ServiceUnavailable(f"the session store did not load session {key[:4]}…")


def _keep_session_cookie(request: HttpRequest) -> None:
    # A fresh store object for the cookie's key, never read: SessionMiddleware then
    # neither saves it nor deletes the cookie of a session that only looked empty.
    key = request.COOKIES.get(django_settings.SESSION_COOKIE_NAME)
    if key:
        request.session = type(request.session)(key)
