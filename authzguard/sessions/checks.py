"""System checks for the session lifecycle: ids ``authzguard.E1xx`` / ``authzguard.W1xx``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings as django_settings
from django.core.cache import InvalidCacheBackendError, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from authzguard.sessions.engines import (
    CachedDatabaseEngine,
    CacheEngine,
    SignedCookieEngine,
    UnsupportedSessionEngine,
    get_engine,
)

MIDDLEWARE_PATH = "authzguard.sessions.middleware.SessionIndexMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"

#: Every message these checks can produce, by id: (level class, message, hint).
MESSAGES: Sequence[tuple[str, type[Error] | type[Warning], str, str]] = (
    (
        "authzguard.E101",
        Error,
        "SESSION_ENGINE {engine!r} is not supported by authzguard: its sessions cannot be "
        "found or deleted per user.",
        "Use one of Django's engines (db, cached_db, cache, file, signed_cookies) or a "
        "subclass of one; until then purge_user_sessions() raises NotImplementedError.",
    ),
    (
        "authzguard.W101",
        Warning,
        "signed_cookies sessions live in the browser and cannot be deleted server-side: "
        "authzguard ends them by bumping a per-user generation that "
        "SessionIndexMiddleware checks (one query per signed-in request).",
        "Sessions cannot be listed or ended one by one, and purges only take effect where "
        "the middleware runs; prefer the db, cached_db or cache engine when you need that.",
    ),
    (
        "authzguard.E102",
        Error,
        "SessionIndexMiddleware must come after AuthenticationMiddleware.",
        f"Place {MIDDLEWARE_PATH!r} right after {AUTH_MIDDLEWARE_PATH!r} in MIDDLEWARE.",
    ),
    (
        "authzguard.E103",
        Error,
        "SESSION_ENGINE is signed_cookies but SessionIndexMiddleware is not installed: "
        "purged sessions would stay signed in.",
        f"Add {MIDDLEWARE_PATH!r} right after {AUTH_MIDDLEWARE_PATH!r} in MIDDLEWARE.",
    ),
    (
        "authzguard.W102",
        Warning,
        "SessionIndexMiddleware is not installed: purges delete store entries, but key "
        "rotations outside login (cycle_key) are not followed, and a session re-saved by a "
        "request racing the purge stays signed in.",
        f"Add {MIDDLEWARE_PATH!r} right after {AUTH_MIDDLEWARE_PATH!r} in MIDDLEWARE.",
    ),
    (
        "authzguard.W103",
        Warning,
        "SESSION_ENGINE {engine!r} uses the per-process cache {alias!r} (LocMemCache): a "
        "purge reaches only the cache of the process that runs it.",
        "Use a shared cache (Redis, Memcached) for SESSION_CACHE_ALIAS in production; "
        "SessionIndexMiddleware still refuses purged sessions in every process.",
    ),
)
_BY_ID = {check_id: (level, message, hint) for check_id, level, message, hint in MESSAGES}


def _message(check_id: str, **values: Any) -> CheckMessage:
    level, message, hint = _BY_ID[check_id]
    return level(message.format(**values), hint=hint, id=check_id)


@register(Tags.security)
def check_session_lifecycle(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    middleware = list(django_settings.MIDDLEWARE)
    installed = MIDDLEWARE_PATH in middleware
    if installed and (
        AUTH_MIDDLEWARE_PATH not in middleware
        or middleware.index(MIDDLEWARE_PATH) < middleware.index(AUTH_MIDDLEWARE_PATH)
    ):
        messages.append(_message("authzguard.E102"))
    try:
        engine = get_engine()
    except UnsupportedSessionEngine:
        messages.append(_message("authzguard.E101", engine=django_settings.SESSION_ENGINE))
        return messages
    except ImportError:
        return messages  # Django's own checks and the first request report a bad path.
    if isinstance(engine, SignedCookieEngine):
        messages.append(_message("authzguard.W101"))
        if not installed:
            messages.append(_message("authzguard.E103"))
        return messages
    if not installed:
        messages.append(_message("authzguard.W102"))
    if _uses_local_cache(engine):
        messages.append(
            _message(
                "authzguard.W103",
                engine=django_settings.SESSION_ENGINE,
                alias=django_settings.SESSION_CACHE_ALIAS,
            )
        )
    return messages


def _uses_local_cache(engine: object) -> bool:
    if not isinstance(engine, (CacheEngine, CachedDatabaseEngine)):
        return False
    try:
        return isinstance(caches[django_settings.SESSION_CACHE_ALIAS], LocMemCache)
    except InvalidCacheBackendError:
        return False
