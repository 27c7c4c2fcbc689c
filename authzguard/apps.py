from __future__ import annotations

from django.apps import AppConfig


class AuthzGuardConfig(AppConfig):
    name = "authzguard"
    verbose_name = "authzguard"
    default_auto_field = "django.db.models.BigAutoField"
