"""Ending sessions: every session of a user, all but the current one, or one by its index id."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from authzguard import audit
from authzguard.models import IndexedSession
from authzguard.sessions.engines import SessionEngine, UnsupportedSessionEngine, get_engine
from authzguard.sessions.generations import GENERATION_SESSION_KEY, bump_generation


def user_pk_string(user_or_pk: Any) -> str:
    """The user's primary key in the form ``login()`` stores it in the session."""
    if isinstance(user_or_pk, models.Model):
        return user_or_pk._meta.pk.value_to_string(user_or_pk)
    if getattr(user_or_pk, "is_anonymous", False):
        raise ValueError("An anonymous user has no sessions of its own to end.")
    pk_field = get_user_model()._meta.pk
    try:
        return str(pk_field.to_python(user_or_pk))
    except ValidationError as exc:
        raise ValueError(f"{user_or_pk!r} is not a valid user primary key") from exc


#: Called as ``report(ended, total)`` while a purge removes stored sessions, in chunks.
ProgressReport = Callable[[int, int], None]
#: Stored sessions removed per store call.
DELETE_CHUNK = 1000


def purge_user_sessions(
    user_or_pk: Any,
    *,
    keep: str | None = None,
    reason: str = "manual",
    report: ProgressReport | None = None,
) -> int:
    """End every session of a user, except the one whose session key is ``keep``.

    Removes the sessions from the store and from the index and returns how many were
    ended. On ``signed_cookies`` it bumps the user's session generation instead (every
    older cookie becomes anonymous at the middleware) and returns 0: the number of cookies
    held by browsers is not knowable; ``keep`` is not supported there (use
    :func:`end_user_sessions` with ``keep_current=True``). ``report`` follows the
    removal from the store (``manage.py authzguard_purge_sessions`` shows it).
    """
    return purge_by_pk(user_pk_string(user_or_pk), keep_key=keep, reason=reason, report=report)


def end_user_sessions(request: HttpRequest, user: Any, *, keep_current: bool = False) -> int:
    """End ``user``'s sessions on behalf of ``request`` (the "close user session" flow).

    With ``keep_current=True`` and the request signed in as ``user``, its own session
    survives ("sign out everywhere else"). When the request's own session is ended, the
    request becomes anonymous at once.
    """
    user_pk = user_pk_string(user)
    actor = request_user_pk(request)
    own = actor == user_pk
    count = purge_by_pk(
        user_pk,
        keep_session=request.session if keep_current and own else None,
        reason="ended_by_owner" if own else "ended_by_other",
        actor=actor,
    )
    if own and not keep_current:
        _make_anonymous(request)
    return count


def end_session(request: HttpRequest, session_id: int) -> int:
    """End one of the request user's own sessions, by its index id; return 1 or 0.

    Another user's session id answers 0 exactly like an unknown one.
    """
    engine = get_engine()
    if not engine.indexed:
        raise UnsupportedSessionEngine(
            f"The {engine.name!r} session engine cannot end one session: only all of a "
            "user's sessions at once (end_user_sessions)."
        )
    user_pk = request_user_pk(request)
    if user_pk is None:
        return 0
    ended = _end_indexed(engine, IndexedSession.objects.filter(pk=session_id, user_id=user_pk))
    if not ended:
        return 0
    _audit(user_pk, 1, engine.name, "ended_one", actor=user_pk)
    if request.session.session_key in ended:
        _make_anonymous(request)
    return 1


def purge_by_pk(
    user_pk: str,
    *,
    keep_key: str | None = None,
    keep_session: SessionBase | None = None,
    reason: str,
    actor: str | None = None,
    known_keys: Collection[str] = (),
    report: ProgressReport | None = None,
) -> int:
    """End the sessions of the user whose key, as the session stores it, is ``user_pk``.

    What :func:`purge_user_sessions` and the signal hooks run; ``known_keys`` are keys
    collected before the index rows were cascade-deleted with the user.
    """
    engine = get_engine()
    if not engine.indexed:
        if keep_key is not None:
            raise UnsupportedSessionEngine(
                "signed_cookies sessions have no server-side key to keep: use "
                "end_user_sessions(request, user, keep_current=True)."
            )
        generation = bump_generation(user_pk)
        if keep_session is not None:
            keep_session[GENERATION_SESSION_KEY] = generation
        _audit(user_pk, 0, engine.name, reason, actor=actor, generation=generation)
        return 0
    if keep_session is not None:
        keep_key = keep_session.session_key
    rows = IndexedSession.objects.filter(user_id=user_pk)
    if keep_key is not None:
        rows = rows.exclude(session_key=keep_key)
        known_keys = [key for key in known_keys if key != keep_key]
    keys = _end_indexed(engine, rows, known_keys, report)
    _audit(user_pk, len(keys), engine.name, reason, actor=actor)
    return len(keys)


def _end_indexed(
    engine: SessionEngine,
    rows: QuerySet[IndexedSession],
    known_keys: Collection[str] = (),
    report: ProgressReport | None = None,
) -> set[str]:
    """Remove these index rows and their sessions from the store; return the keys."""
    # A database store is purged in the index's transaction: all or nothing, one commit.
    # Other stores are purged after the index rows are gone, so a failure there still
    # leaves the sessions refused by the middleware (which requires an index row).
    with transaction.atomic():
        # Locked (rekey_session takes the same lock, so a key rotation waits for this
        # purge and then finds its row gone) and deleted by primary key: a row renamed
        # by a rotation that got in first is still this session's row.
        found = dict(rows.select_for_update().order_by("pk").values_list("pk", "session_key"))
        keys = set(found.values())
        keys.update(known_keys)
        IndexedSession.objects.filter(
            Q(pk__in=list(found)) | Q(session_key__in=list(known_keys))
        ).delete()
        if engine.in_database:
            _delete_stored(engine, keys, report)
    if not engine.in_database:
        _delete_stored(engine, keys, report)
    return keys


def _delete_stored(engine: SessionEngine, keys: set[str], report: ProgressReport | None) -> None:
    ordered = sorted(keys)
    for start in range(0, len(ordered), DELETE_CHUNK):
        engine.delete(ordered[start : start + DELETE_CHUNK])
        if report is not None:
            report(min(start + DELETE_CHUNK, len(ordered)), len(ordered))


def _audit(user_pk: str, count: int, engine: str, reason: str, **extra: Any) -> None:
    record = {"user": user_pk, "count": count, "engine": engine, "reason": reason}
    record.update({name: value for name, value in extra.items() if value is not None})
    audit.emit("session.purge", record)


def request_user_pk(request: HttpRequest) -> str | None:
    """The signed-in user's key as the session stores it; ``None`` when anonymous."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user_pk_string(user)


def _make_anonymous(request: HttpRequest) -> None:
    request.session.flush()
    request.user = AnonymousUser()
