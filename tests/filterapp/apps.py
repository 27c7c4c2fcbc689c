from __future__ import annotations

from django.apps import AppConfig


class FilterAppConfig(AppConfig):
    """Rows with nullable columns of every type: what list filtering is proven on."""

    name = "tests.filterapp"
    label = "filterapp"
    default_auto_field = "django.db.models.AutoField"
