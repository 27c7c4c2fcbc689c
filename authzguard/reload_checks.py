"""System checks of policy reload and notify: ids ``authzguard.E040``-``E049``, ``W040``-``W049``."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import connections

from authzguard.checks import MIDDLEWARE_PATH

_CHANNEL = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

#: Every message these checks can produce, by id: (level, message, hint).
MESSAGES: Sequence[tuple[str, type[Error] | type[Warning], str, str]] = (
    (
        "authzguard.E040",
        Error,
        "AUTHZGUARD_RELOAD is {value!r}.",
        'Set AUTHZGUARD_RELOAD to "off" (reload on restart only) or "poll".',
    ),
    (
        "authzguard.E041",
        Error,
        "AUTHZGUARD_RELOAD_INTERVAL is {value!r}, not a positive number of seconds.",
        "Set AUTHZGUARD_RELOAD_INTERVAL to a number of seconds above 0, such as 2.",
    ),
    (
        "authzguard.E042",
        Error,
        "AUTHZGUARD_RELOAD_NOTIFY is {value!r}.",
        'Set AUTHZGUARD_RELOAD_NOTIFY to None, "redis" or "postgres".',
    ),
    (
        "authzguard.E043",
        Error,
        'AUTHZGUARD_RELOAD_NOTIFY is "redis" but AUTHZGUARD_REDIS_URL is {value!r}.',
        "Set AUTHZGUARD_REDIS_URL to the server's URL: redis://host:6379/0 (or rediss://, "
        "unix://).",
    ),
    (
        "authzguard.E044",
        Error,
        'AUTHZGUARD_RELOAD_NOTIFY is "redis" but the redis package is not installed.',
        "pip install 'authzguard[redis]'",
    ),
    (
        "authzguard.E045",
        Error,
        'AUTHZGUARD_RELOAD_NOTIFY is "postgres" but the psycopg (3) package is not installed.',
        "pip install 'authzguard[postgres]'",
    ),
    (
        "authzguard.E046",
        Error,
        'AUTHZGUARD_RELOAD_NOTIFY is "postgres" but the default database is {vendor}.',
        'Use "redis", or make DATABASES["default"] a PostgreSQL database (LISTEN needs a '
        "direct connection, not pgbouncer's transaction pooling).",
    ),
    (
        "authzguard.E047",
        Error,
        "AUTHZGUARD_NOTIFY_CHANNEL is {value!r}: not a plain lower-case identifier.",
        "Use letters a-z, digits and _ (at most 63, not starting with a digit), "
        'such as "authzguard" or "shop_production".',
    ),
    (
        "authzguard.W040",
        Warning,
        "Policy reload is on ({what}) but AuthzGuardMiddleware is not installed: nothing "
        "polls on requests, and no notify listener starts.",
        f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE, or turn reload off and restart workers.",
    ),
)
_BY_ID = {check_id: (level, message, hint) for check_id, level, message, hint in MESSAGES}


def _message(check_id: str, **values: Any) -> CheckMessage:
    level, message, hint = _BY_ID[check_id]
    return level(message.format(**values), hint=hint.format(**values), id=check_id)


def _interval_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


def _notify_messages(notify: Any) -> list[CheckMessage]:
    if notify == "redis":
        url = getattr(django_settings, "AUTHZGUARD_REDIS_URL", None)
        messages = []
        if not isinstance(url, str) or not url.startswith(_REDIS_SCHEMES):
            messages.append(_message("authzguard.E043", value=url))
        if importlib.util.find_spec("redis") is None:
            messages.append(_message("authzguard.E044"))
        return messages
    if notify == "postgres":
        if importlib.util.find_spec("psycopg") is None:
            return [_message("authzguard.E045")]
        vendor = connections["default"].vendor
        if vendor != "postgresql":
            return [_message("authzguard.E046", vendor=vendor)]
        return []
    return [_message("authzguard.E042", value=notify)]


@register(Tags.compatibility)
def check_reload(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Check the reload and notify settings (registered with Django's check framework)."""
    messages: list[CheckMessage] = []
    mode = getattr(django_settings, "AUTHZGUARD_RELOAD", "off")
    if mode not in ("off", "poll"):
        messages.append(_message("authzguard.E040", value=mode))
    interval = getattr(django_settings, "AUTHZGUARD_RELOAD_INTERVAL", 2.0)
    if not _interval_ok(interval):
        messages.append(_message("authzguard.E041", value=interval))
    notify = getattr(django_settings, "AUTHZGUARD_RELOAD_NOTIFY", None)
    if notify is not None:
        messages.extend(_notify_messages(notify))
    channel = getattr(django_settings, "AUTHZGUARD_NOTIFY_CHANNEL", "authzguard")
    if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
        messages.append(_message("authzguard.E047", value=channel))
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or [])
    if (mode == "poll" or notify is not None) and MIDDLEWARE_PATH not in middleware:
        what = " and ".join(
            part
            for part in (
                "AUTHZGUARD_RELOAD = 'poll'" if mode == "poll" else "",
                f"AUTHZGUARD_RELOAD_NOTIFY = {notify!r}" if notify is not None else "",
            )
            if part
        )
        messages.append(_message("authzguard.W040", what=what))
    return messages
