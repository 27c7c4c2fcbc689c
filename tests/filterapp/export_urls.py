"""A URLconf whose filtered list cannot become SQL (the start-up check's example)."""

from __future__ import annotations

from django.urls import path

from tests.filterapp import views

urlpatterns = [path("rows/export/", views.RowExportList.as_view(), name="row-export")]
