"""Signal receivers that keep the index exact and purge on delete, deactivation, password change.

Connected by ``AuthzGuardConfig.ready()``. Purges triggered by a model save or delete run
on transaction commit, so a rolled-back delete or deactivation keeps the sessions.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.exceptions import FieldDoesNotExist
from django.db import models, transaction
from django.db.models.signals import post_save, pre_delete, pre_save
from django.http import HttpRequest

from authzguard import audit
from authzguard.conf import settings
from authzguard.models import IndexedSession
from authzguard.sessions.engines import SessionEngine, UnsupportedSessionEngine, get_engine
from authzguard.sessions.generations import GENERATION_SESSION_KEY, current_generation
from authzguard.sessions.index import forget_session, record_session
from authzguard.sessions.middleware import current_request
from authzguard.sessions.purge import purge_by_pk, request_user_pk, user_pk_string

_PENDING_ATTR = "_authzguard_session_events"


def connect() -> None:
    user_model = django_settings.AUTH_USER_MODEL
    user_logged_in.connect(on_login, dispatch_uid="authzguard.sessions.login")
    user_logged_out.connect(on_logout, dispatch_uid="authzguard.sessions.logout")
    pre_delete.connect(on_user_delete, sender=user_model, dispatch_uid="authzguard.sessions.delete")
    pre_save.connect(on_user_pre_save, sender=user_model, dispatch_uid="authzguard.sessions.pre")
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="authzguard.sessions.post")


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    engine = _engine()
    if engine is None or request is None or not hasattr(request, "session"):
        return
    if engine.indexed:
        if not record_session(request, user):
            # Deleted while signing in: no session may outlive the user, and a stock
            # LoginView redirects whatever a receiver does, so end this one now.
            request.session.flush()
            request.user = AnonymousUser()
            audit.emit(
                "session.refused",
                {"user": user_pk_string(user), "reason": "user_deleted", "path": request.path},
            )
    else:
        request.session[GENERATION_SESSION_KEY] = current_generation(user_pk_string(user))


def on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    engine = _engine()
    if engine is None or not engine.indexed or request is None or not hasattr(request, "session"):
        return
    key = request.session.session_key
    if key is not None:
        forget_session(key)


def on_user_delete(sender: Any, instance: models.Model, using: str, **kwargs: Any) -> None:
    # The index rows are about to be cascade-deleted with the user: collect their keys now,
    # delete the store entries only once the deletion has committed.
    engine = _engine()
    keys: list[str] = []
    if engine is not None and engine.indexed:
        keys = list(
            IndexedSession.objects.using(using)
            .filter(user_id=instance.pk)
            .values_list("session_key", flat=True)
        )
    purge = partial(_purge_or_report, user_pk_string(instance), "user_deleted", known_keys=keys)
    transaction.on_commit(purge, using=using)


def on_user_pre_save(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool,
    using: str,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    if raw or instance._state.adding or instance.pk is None:
        return
    watched = []
    if (
        settings.SESSION_PURGE_ON_DEACTIVATE
        and _has_field(sender, "is_active")
        and not getattr(instance, "is_active", True)
    ):
        watched.append("is_active")
    if settings.SESSION_PURGE_ON_PASSWORD_CHANGE and _has_field(sender, "password"):
        watched.append("password")
    if update_fields is not None:
        watched = [name for name in watched if name in update_fields]
    if not watched:
        return
    before = sender._default_manager.using(using).filter(pk=instance.pk).values(*watched).first()
    if before is None:
        return
    events = []
    if "is_active" in watched and before["is_active"]:
        events.append("deactivated")
    if "password" in watched and before["password"] != getattr(instance, "password", None):
        events.append("password_changed")
    setattr(instance, _PENDING_ATTR, events)


def on_user_saved(sender: Any, instance: models.Model, using: str, **kwargs: Any) -> None:
    events: list[str] = instance.__dict__.pop(_PENDING_ATTR, [])
    if not events:
        return
    user_pk = user_pk_string(instance)
    if "deactivated" in events:
        purge = partial(_purge_or_report, user_pk, "deactivated")
    else:
        # The user changing their own password keeps the session they are using.
        request = current_request()
        own = request is not None and request_user_pk(request) == user_pk
        keep = request.session if own and request is not None else None
        purge = partial(_purge_or_report, user_pk, "password_changed", keep_session=keep)
    transaction.on_commit(purge, using=using)


def _engine() -> SessionEngine | None:
    # An unsupported engine is reported by check E101; the hooks must not break every
    # login, logout and user deletion of a project over it.
    try:
        return get_engine()
    except UnsupportedSessionEngine:
        return None


def _purge_or_report(user_pk: str, reason: str, **options: Any) -> None:
    try:
        purge_by_pk(user_pk, reason=reason, **options)
    except UnsupportedSessionEngine as exc:
        # Never pretend: the audit trail says the sessions were NOT ended.
        audit.emit("session.purge_failed", {"user": user_pk, "reason": reason, "error": str(exc)})


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True
