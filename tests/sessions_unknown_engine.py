"""A working session engine authzguard does not know: it must refuse it, never guess."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import CreateError, SessionBase

_SESSIONS: dict[str, dict[str, Any]] = {}


class SessionStore(SessionBase):
    def exists(self, session_key: str) -> bool:
        return session_key in _SESSIONS

    def create(self) -> None:
        self._session_key = self._get_new_session_key()
        self.save(must_create=True)
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()
            return
        if must_create and self.session_key in _SESSIONS:
            raise CreateError
        _SESSIONS[self.session_key] = dict(self._get_session(no_load=must_create))

    def delete(self, session_key: str | None = None) -> None:
        _SESSIONS.pop(session_key or self.session_key or "", None)

    def load(self) -> dict[str, Any]:
        if self.session_key in _SESSIONS:
            return dict(_SESSIONS[self.session_key])
        self._session_key = None
        return {}
