"""Every ``AUTHZGUARD_*`` setting, read from ``django.conf.settings`` when used.

Nothing is read at import time, so ``override_settings`` works in tests and the
policy core stays importable without configured settings. Each property's
docstring is the setting's documentation (see ``docs/settings.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

DEFAULT_ALLOWED_VIEWS: tuple[str, ...] = (
    "admin:*",
    "login",
    "logout",
    "django.views.static.serve",
    "django.contrib.staticfiles.views.serve",
    # django.contrib.auth.urls and DRF's router root, by their own view classes (so under
    # any URL name or namespace, and never a project's own view that reuses a name).
    "django.contrib.auth.views.LoginView",
    "django.contrib.auth.views.LogoutView",
    "django.contrib.auth.views.PasswordChangeView",
    "django.contrib.auth.views.PasswordChangeDoneView",
    "django.contrib.auth.views.PasswordResetView",
    "django.contrib.auth.views.PasswordResetDoneView",
    "django.contrib.auth.views.PasswordResetConfirmView",
    "django.contrib.auth.views.PasswordResetCompleteView",
    "rest_framework.routers.APIRootView",
)


def _names(value: Any) -> tuple[str, ...]:
    # A bare string is one name (never its characters: "*" among them would exempt all).
    return (value,) if isinstance(value, str) else tuple(value)


class Settings:
    def _get(self, name: str, default: Any) -> Any:
        return getattr(django_settings, name, default)

    @property
    def POLICY_PATHS(self) -> Sequence[str | Path]:
        """Files or directories of YAML policy files, merged in order. Default: ``[]``."""
        value = self._get("AUTHZGUARD_POLICY_PATHS", [])
        return tuple(value) if isinstance(value, (list, tuple)) else (value,)

    @property
    def ENGINE(self) -> str:
        """``"indexed"`` (default) or ``"casbin"``: which evaluator decides."""
        return str(self._get("AUTHZGUARD_ENGINE", "indexed"))

    @property
    def MAX_POLICY_BYTES(self) -> int:
        """Largest policy file accepted, in bytes. Default: 1 MiB."""
        return int(self._get("AUTHZGUARD_MAX_POLICY_BYTES", 1024 * 1024))

    @property
    def AUDIT_ATTRIBUTES(self) -> bool:
        """Audit records also carry the subject's facts (groups read) and the target's
        attributes, for ``authzguard replay``. Personal data in logs. Default: ``False``."""
        return bool(self._get("AUTHZGUARD_AUDIT_ATTRIBUTES", False))

    @property
    def DENY_BY_DEFAULT(self) -> bool:
        """Refuse views that are neither bound nor exempt. Default: ``False``."""
        return bool(self._get("AUTHZGUARD_DENY_BY_DEFAULT", False))

    @property
    def ALLOWED_VIEWS(self) -> Sequence[str]:
        """View names or dotted paths (``*`` wildcards allowed) exempt under
        deny-by-default; setting it replaces the defaults."""
        return _names(self._get("AUTHZGUARD_ALLOWED_VIEWS", DEFAULT_ALLOWED_VIEWS))

    @property
    def EXTRA_ALLOWED_VIEWS(self) -> Sequence[str]:
        """More exempt views, added to ``ALLOWED_VIEWS`` (keeps its defaults). Default: ``[]``."""
        return _names(self._get("AUTHZGUARD_EXTRA_ALLOWED_VIEWS", ()))

    @property
    def HIDE_EXISTENCE(self) -> bool:
        """Answer 404 both for "forbidden" and for "no such object". Default: ``False``."""
        return bool(self._get("AUTHZGUARD_HIDE_EXISTENCE", False))

    @property
    def STATE_CHANGING_METHODS(self) -> Sequence[str]:
        """HTTP methods a state-changing action accepts. Default: ``("POST", "DELETE")``."""
        return tuple(
            m.upper() for m in self._get("AUTHZGUARD_STATE_CHANGING_METHODS", ("POST", "DELETE"))
        )

    @property
    def MAX_PARAMETER_LENGTH(self) -> int:
        """Longest target parameter value accepted before any query. Default: 254."""
        return int(self._get("AUTHZGUARD_MAX_PARAMETER_LENGTH", 254))

    @property
    def SESSION_INDEX_CLIENT_INFO(self) -> bool:
        """Store the IP address and user agent on each indexed session. Default: ``False``."""
        return bool(self._get("AUTHZGUARD_SESSION_INDEX_CLIENT_INFO", False))

    @property
    def SESSION_TOUCH_INTERVAL(self) -> int:
        """Seconds between two ``last_seen`` writes for one session. Default: 60."""
        return int(self._get("AUTHZGUARD_SESSION_TOUCH_INTERVAL", 60))

    @property
    def SESSION_PURGE_ON_DEACTIVATE(self) -> bool:
        """Purge a user's sessions when ``is_active`` becomes ``False``. Default: ``True``."""
        return bool(self._get("AUTHZGUARD_SESSION_PURGE_ON_DEACTIVATE", True))

    @property
    def SESSION_PURGE_ON_PASSWORD_CHANGE(self) -> bool:
        """Purge a user's other sessions when the password changes. Default: ``False``."""
        return bool(self._get("AUTHZGUARD_SESSION_PURGE_ON_PASSWORD_CHANGE", False))

    @property
    def REQUEST_ID_HEADER(self) -> str | None:
        """Request header whose well-formed value becomes the audit ``request_id``
        (else one is generated). Default: ``"X-Request-ID"``; ``None`` to always generate."""
        value = self._get("AUTHZGUARD_REQUEST_ID_HEADER", "X-Request-ID")
        return str(value) if value else None

    @property
    def RELOAD(self) -> str:
        """``"off"`` (default) or ``"poll"``: watch the policy files and take new versions."""
        return str(self._get("AUTHZGUARD_RELOAD", "off"))

    @property
    def RELOAD_INTERVAL(self) -> float:
        """Seconds between two polls of the policy files (and heartbeats). Default: 2.0."""
        return float(self._get("AUTHZGUARD_RELOAD_INTERVAL", 2.0))

    @property
    def RELOAD_NOTIFY(self) -> str | None:
        """``None`` (default), ``"redis"`` or ``"postgres"``: how reloads reach every worker."""
        value = self._get("AUTHZGUARD_RELOAD_NOTIFY", None)
        return str(value) if value else None

    @property
    def REDIS_URL(self) -> str | None:
        """The Redis server of ``AUTHZGUARD_RELOAD_NOTIFY = "redis"``. Default: ``None``."""
        value = self._get("AUTHZGUARD_REDIS_URL", None)
        return str(value) if value else None

    @property
    def NOTIFY_CHANNEL(self) -> str:
        """Name of the notify channel, and prefix of the status keys. Default: "authzguard"."""
        return str(self._get("AUTHZGUARD_NOTIFY_CHANNEL", "authzguard"))

    @property
    def RETRY_AFTER(self) -> int:
        """Seconds in the ``Retry-After`` header of the 503 answered while the database or
        Redis cannot be reached. Default: 5."""
        return int(self._get("AUTHZGUARD_RETRY_AFTER", 5))


settings = Settings()
