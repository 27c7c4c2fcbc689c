"""Adapters over Django's session engines: delete stored sessions by key, list what is stored.

Each built-in engine (and any subclass of one) maps to one adapter. An engine this module
does not know raises :class:`UnsupportedSessionEngine` rather than being guessed at: a purge
that silently deletes nothing is the bug this package exists to fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any, ClassVar

from django.conf import settings as django_settings
from django.contrib.sessions.backends import cache as cache_backend
from django.contrib.sessions.backends import cached_db as cached_db_backend
from django.contrib.sessions.backends import db as db_backend
from django.contrib.sessions.backends import file as file_backend
from django.contrib.sessions.backends import signed_cookies as signed_cookies_backend
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.core.cache import BaseCache, caches
from django.utils import timezone

from authzguard.exceptions import AuthzGuardError

StoredSession = tuple[str, dict[str, Any] | None]
"""A stored session's key and its decoded data (``None`` when it cannot be decoded)."""


class UnsupportedSessionEngine(AuthzGuardError, NotImplementedError):
    """The configured session engine cannot do what was asked (enumerate, delete, list)."""


class SessionEngine:
    """What authzguard needs from a session engine."""

    name: ClassVar[str]
    #: Session keys are stable server-side identifiers, so the session index applies.
    indexed: ClassVar[bool] = True
    #: Every stored session can be listed (needed to index sessions that predate the index).
    enumerable: ClassVar[bool] = True
    #: The store is in the database, so its deletes can share the index's transaction.
    in_database: ClassVar[bool] = False

    def __init__(self, store_class: type[SessionBase]) -> None:
        self.store_class = store_class

    def delete(self, keys: Sequence[str]) -> None:
        """Remove these sessions from the store; keys that are already gone are ignored."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        return bool(self.store_class().exists(key))

    def stored_sessions(self) -> Iterator[StoredSession]:
        """Every unexpired stored session, decoded where possible."""
        raise UnsupportedSessionEngine(
            f"The {self.name!r} session engine cannot list its sessions."
        )

    def decode(self, raw: str) -> dict[str, Any] | None:
        # SessionBase.decode() answers {} for corrupt data; the index command must tell
        # "undecodable" from "anonymous", so decode the way it does, without the fallback.
        store = self.store_class()
        try:
            data = signing.loads(raw, salt=store.key_salt, serializer=store.serializer)
        except Exception:
            return None
        return data if isinstance(data, dict) else None


class DatabaseEngine(SessionEngine):
    name = "db"
    in_database = True

    def _model(self) -> Any:
        return self.store_class.get_model_class()  # type: ignore[attr-defined]

    def delete(self, keys: Sequence[str]) -> None:
        if keys:
            self._model().objects.filter(session_key__in=list(keys)).delete()

    def stored_sessions(self) -> Iterator[StoredSession]:
        rows = (
            self._model()
            .objects.filter(expire_date__gt=timezone.now())
            .values_list("session_key", "session_data")
            .iterator(chunk_size=2000)
        )
        for key, raw in rows:
            yield key, self.decode(raw)


def _session_cache() -> BaseCache:
    return caches[django_settings.SESSION_CACHE_ALIAS]


class CachedDatabaseEngine(DatabaseEngine):
    name = "cached_db"

    def delete(self, keys: Sequence[str]) -> None:
        if keys:
            super().delete(keys)
            prefix = self.store_class.cache_key_prefix  # type: ignore[attr-defined]
            _session_cache().delete_many([prefix + key for key in keys])


class CacheEngine(SessionEngine):
    name = "cache"
    enumerable = False

    def delete(self, keys: Sequence[str]) -> None:
        if keys:
            prefix = self.store_class.cache_key_prefix  # type: ignore[attr-defined]
            _session_cache().delete_many([prefix + key for key in keys])


class FileEngine(SessionEngine):
    name = "file"

    def delete(self, keys: Sequence[str]) -> None:
        store = self.store_class()
        for key in keys:
            store.delete(key)

    def stored_sessions(self) -> Iterator[StoredSession]:
        path = self.store_class._get_storage_path()  # type: ignore[attr-defined]
        prefix = django_settings.SESSION_COOKIE_NAME
        # The file engine's own expiry rule (see its load()): modification time + cookie age.
        oldest = timezone.now() - timedelta(seconds=django_settings.SESSION_COOKIE_AGE)
        for name in os.listdir(path):
            if not name.startswith(prefix):
                continue
            full = os.path.join(path, name)
            try:
                modified = datetime.fromtimestamp(os.path.getmtime(full), tz=UTC)
                if modified < oldest:
                    continue
                with open(full, encoding="ascii") as handle:
                    raw = handle.read()
            except (OSError, UnicodeDecodeError):
                yield name.removeprefix(prefix), None
                continue
            yield name.removeprefix(prefix), self.decode(raw)


class SignedCookieEngine(SessionEngine):
    """The session lives in the browser: nothing to delete, nothing to list.

    Its "key" is the signed data itself and changes on every write, so the index does not
    apply; a per-user generation stored server-side invalidates older cookies instead.
    """

    name = "signed_cookies"
    indexed = False
    enumerable = False

    def delete(self, keys: Sequence[str]) -> None:
        raise UnsupportedSessionEngine("Signed-cookie sessions cannot be deleted server-side.")

    def exists(self, key: str) -> bool:
        raise UnsupportedSessionEngine("Signed-cookie sessions cannot be looked up server-side.")


# Most specific first: cached_db's store subclasses db's.
_ADAPTERS: tuple[tuple[type[SessionBase], type[SessionEngine]], ...] = (
    (signed_cookies_backend.SessionStore, SignedCookieEngine),
    (cached_db_backend.SessionStore, CachedDatabaseEngine),
    (db_backend.SessionStore, DatabaseEngine),
    (cache_backend.SessionStore, CacheEngine),
    (file_backend.SessionStore, FileEngine),
)


def get_engine(engine_path: str | None = None) -> SessionEngine:
    """The adapter for ``SESSION_ENGINE`` (read now), or :class:`UnsupportedSessionEngine`."""
    path = engine_path or django_settings.SESSION_ENGINE
    store_class: type[SessionBase] = import_module(path).SessionStore
    for base, adapter in _ADAPTERS:
        if issubclass(store_class, base):
            return adapter(store_class)
    raise UnsupportedSessionEngine(
        f"authzguard does not know how to find or delete sessions of the engine {path!r}; "
        "use one of Django's engines (db, cached_db, cache, file, signed_cookies) or a "
        "subclass of one."
    )
