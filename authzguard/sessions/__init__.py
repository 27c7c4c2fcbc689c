"""Session lifecycle: find, list and end a user's sessions on every Django session engine.

See ``docs/sessions.md``. The public API::

    purge_user_sessions(user_or_pk, *, keep=None, reason="manual") -> int
    end_user_sessions(request, user, *, keep_current=False) -> int
    end_session(request, session_id) -> int
    list_user_sessions(user, *, request=None) -> list[SessionInfo]

plus ``authzguard.sessions.middleware.SessionIndexMiddleware``.
"""

from __future__ import annotations

from authzguard.sessions.engines import UnsupportedSessionEngine
from authzguard.sessions.index import SessionInfo, list_user_sessions
from authzguard.sessions.purge import end_session, end_user_sessions, purge_user_sessions

__all__ = [
    "SessionInfo",
    "UnsupportedSessionEngine",
    "end_session",
    "end_user_sessions",
    "list_user_sessions",
    "purge_user_sessions",
]
