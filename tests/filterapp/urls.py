from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tests.filterapp import views

router = SimpleRouter()
router.register("api/rows", views.RowViewSet, basename="api-row")

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("rows/", views.RowList.as_view(), name="row-list"),
    *router.urls,
]
