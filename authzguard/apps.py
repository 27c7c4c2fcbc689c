from __future__ import annotations

from django.apps import AppConfig


class AuthzGuardConfig(AppConfig):
    name = "authzguard"
    verbose_name = "authzguard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported for their side effects: signal receivers and system-check registration.
        from authzguard import checks as enforcement_checks  # noqa: F401
        from authzguard import (
            filter_checks,  # noqa: F401
            reload_checks,  # noqa: F401
        )
        from authzguard.sessions import checks as session_checks  # noqa: F401
        from authzguard.sessions import hooks as session_hooks

        session_hooks.connect()
