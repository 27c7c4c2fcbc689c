"""A URLconf whose filtered lists cannot become SQL (the start-up check's examples): a
list page, and a viewset whose filter backend narrows ``list`` by the same action."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from tests.filterapp import views

router = SimpleRouter()
router.register("api/rows/export", views.RowExportViewSet, basename="api-row-export")

urlpatterns = [path("rows/export/", views.RowExportList.as_view(), name="row-export"), *router.urls]
