"""A session engine authzguard does not know: it must refuse it, never guess."""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase


class SessionStore(SessionBase):
    pass
