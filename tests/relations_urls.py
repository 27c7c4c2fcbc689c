"""The example app's URLs plus the same objects behind the decorator and DRF, for
tests/test_relations.py (``@pytest.mark.urls("tests.relations_urls")``)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework import generics, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer

from authzguard import authorize
from authzguard.contrib.drf import AuthzGuardPermission
from tests.projectapp.models import Invoice, Project


@authorize("view", "project", target="pk", source="path", model="projectapp.Project")
def project_json(request: HttpRequest, pk: int) -> JsonResponse:
    project: Project = request.authz.target  # type: ignore[attr-defined]
    return JsonResponse({"name": project.name})


@authorize("view", "invoice", target="pk", source="path", model="projectapp.Invoice")
def invoice_json(request: HttpRequest, pk: int) -> JsonResponse:
    invoice: Invoice = request.authz.target  # type: ignore[attr-defined]
    return JsonResponse({"amount": str(invoice.amount)})


class ProjectSerializer(serializers.ModelSerializer[Project]):
    class Meta:
        model = Project
        fields = ["id", "name"]


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    class Meta:
        model = Invoice
        fields = ["id", "amount"]


class _Guarded:
    permission_classes = [AuthzGuardPermission]
    authentication_classes = [SessionAuthentication]
    renderer_classes = [JSONRenderer]


class ProjectApi(_Guarded, generics.RetrieveAPIView):  # type: ignore[type-arg]
    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    authz_resource = "project"
    authz_actions = {"GET": "view"}


class InvoiceApi(_Guarded, generics.RetrieveAPIView):  # type: ignore[type-arg]
    queryset = Invoice.objects.all()
    serializer_class = InvoiceSerializer
    authz_resource = "invoice"
    authz_actions = {"GET": "view"}


urlpatterns = [
    path("fn/projects/<int:pk>/", project_json, name="fn-project"),
    path("fn/invoices/<int:pk>/", invoice_json, name="fn-invoice"),
    path("drf/projects/<int:pk>/", ProjectApi.as_view(), name="drf-project"),
    path("drf/invoices/<int:pk>/", InvoiceApi.as_view(), name="drf-invoice"),
    path("", include("tests.projectapp.urls")),
]
