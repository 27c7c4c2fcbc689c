from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from tests.projectapp import api, views

#: DRF's router root is exempt under deny-by-default; the viewsets are checked by DRF.
router = DefaultRouter()
router.register("projects", api.ProjectViewSet, basename="api-project")
router.register("invoices", api.InvoiceViewSet, basename="api-invoice")

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include(router.urls)),
    path("projects/", views.ProjectList.as_view(), name="project-list"),
    path("projects/new/", views.ProjectCreate.as_view(), name="project-create"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:pk>/edit/", views.ProjectUpdate.as_view(), name="project-edit"),
    path("projects/<int:pk>/delete/", views.ProjectDelete.as_view(), name="project-delete"),
    path("projects/<int:pk>/archive/", views.ProjectArchive.as_view(), name="project-archive"),
    path("projects/<int:pk>/rename/", views.ProjectRename.as_view(), name="project-rename"),
    path("invoices/", views.InvoiceList.as_view(), name="invoice-list"),
    path("invoices/new/", views.InvoiceCreate.as_view(), name="invoice-create"),
    path("invoices/<int:pk>/", views.InvoiceDetail.as_view(), name="invoice-detail"),
]
