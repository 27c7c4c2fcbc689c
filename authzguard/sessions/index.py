"""The session index: which sessions belong to which user, kept exact as sessions change."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router, transaction
from django.http import HttpRequest
from django.utils import timezone

from authzguard.conf import settings
from authzguard.models import IndexedSession
from authzguard.sessions.engines import UnsupportedSessionEngine, get_engine

_USER_AGENT_LENGTH = IndexedSession._meta.get_field("user_agent").max_length or 256


@dataclass(frozen=True)
class SessionInfo:
    """One of a user's sessions, as shown on a "my sessions" page (never the key)."""

    id: int
    created: datetime
    last_seen: datetime
    ip: str | None
    user_agent: str
    current: bool


def client_info(request: HttpRequest) -> dict[str, Any]:
    """IP address and user agent when ``AUTHZGUARD_SESSION_INDEX_CLIENT_INFO`` is on.

    Both come from the client (``REMOTE_ADDR`` too, behind a proxy that copies a header
    into it), so they are cleaned before they reach a column: a NUL is an error on
    PostgreSQL, and control characters have no business on a "my sessions" page.
    """
    if not settings.SESSION_INDEX_CLIENT_INFO:
        return {}
    return {
        "ip": _ip_address(request.META.get("REMOTE_ADDR")),
        "user_agent": _printable(request.META.get("HTTP_USER_AGENT"), _USER_AGENT_LENGTH),
    }


def _ip_address(value: object) -> str | None:
    try:
        address = ipaddress.ip_address(str(value or ""))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        # "fe80::1%<anything>": the zone is free text, and no database column takes it.
        address = ipaddress.IPv6Address(int(address))
    return str(address)


def _printable(value: object, limit: int) -> str:
    """The printable characters of ``value`` (no NUL, control or format characters), capped."""
    return "".join(islice(filter(str.isprintable, str(value or "")), limit)).strip()


def record_session(request: HttpRequest, user: AbstractBaseUser) -> bool:
    """Index the request's session as belonging to ``user`` (called on login).

    Returns ``False``, recording nothing, when the user no longer exists (deleted between
    the password check and the login).
    """
    session = request.session
    if session.session_key is None:
        # login() after flush() leaves no key until the response is saved; the index
        # needs it now, so create the store entry now.
        session.save()
    now = timezone.now()
    info = client_info(request)
    user_db = router.db_for_write(type(user))
    index_db = router.db_for_write(IndexedSession)
    with (
        transaction.atomic(using=user_db),
        transaction.atomic(using=index_db, savepoint=index_db != user_db),
    ):
        # The user's row is locked until the index row commits: a deletion either
        # committed before (nothing is recorded) or waits and then meets this row.
        users = type(user)._base_manager.using(user_db).select_for_update(no_key=True)
        if not users.filter(pk=user.pk).exists():
            return False
        IndexedSession.objects.update_or_create(
            session_key=session.session_key,
            defaults={"user_id": user.pk, "last_seen": now, **info},
            create_defaults={"user_id": user.pk, "created": now, "last_seen": now, **info},
        )
    return True


def forget_session(session_key: str) -> None:
    IndexedSession.objects.filter(session_key=session_key).delete()


def rekey_session(old_key: str, new_key: str) -> bool:
    """Follow a key rotation (``cycle_key``): the same session now lives under ``new_key``.

    Returns ``False`` when the session has no index row to move: it was ended meanwhile
    (a purge holds the row lock taken here until its delete commits), so the caller must
    end the session under its new key too.
    """
    with transaction.atomic():
        old_rows = list(
            IndexedSession.objects.select_for_update()
            .filter(session_key=old_key)
            .values_list("pk", flat=True)
        )
        if IndexedSession.objects.filter(session_key=new_key).exists():
            # login() recorded the new key itself: the old row is a leftover.
            IndexedSession.objects.filter(pk__in=old_rows).delete()
            return True
        if not old_rows:
            return False
        IndexedSession.objects.filter(pk__in=old_rows).update(session_key=new_key)
        return True


def touch_session(row_id: int, request: HttpRequest) -> None:
    IndexedSession.objects.filter(pk=row_id).update(
        last_seen=timezone.now(), **client_info(request)
    )


def list_user_sessions(
    user: AbstractBaseUser, *, request: HttpRequest | None = None
) -> list[SessionInfo]:
    """The user's indexed sessions, most recently seen first; ``current`` marks the request's.

    Raises :class:`~authzguard.sessions.engines.UnsupportedSessionEngine` for
    ``signed_cookies``, whose sessions exist only in browsers.
    """
    engine = get_engine()
    if not engine.indexed:
        raise UnsupportedSessionEngine(
            f"The {engine.name!r} session engine keeps sessions in the browser: they cannot "
            "be listed or ended one by one, only all at once (purge_user_sessions)."
        )
    current_key = request.session.session_key if request is not None else None
    rows = IndexedSession.objects.filter(user_id=user.pk).order_by("-last_seen", "-pk")
    return [
        SessionInfo(
            id=row.pk,
            created=row.created,
            last_seen=row.last_seen,
            ip=row.ip,
            user_agent=row.user_agent,
            current=current_key is not None and row.session_key == current_key,
        )
        for row in rows
    ]
