from __future__ import annotations

from django.apps import AppConfig


class ProjectAppConfig(AppConfig):
    """The example app of issue 12: projects with an owner and a team, and their invoices."""

    name = "tests.projectapp"
    label = "projectapp"
    default_auto_field = "django.db.models.AutoField"
