"""The example app's API: DRF viewsets with ``AuthzGuardPermission``, keyed by action, and
``AuthzGuardFilterBackend`` narrowing ``list`` to what the policy allows."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from authzguard.contrib.drf import (
    AuthorizedObjectMixin,
    AuthzGuardFilterBackend,
    AuthzGuardPermission,
)
from tests.projectapp.models import Invoice, Project


class ProjectSerializer(serializers.ModelSerializer[Project]):
    class Meta:
        model = Project
        fields = ["id", "name", "owner", "archived"]
        read_only_fields = ["owner", "archived"]


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    class Meta:
        model = Invoice
        fields = ["id", "project", "amount", "status"]


class ProjectViewSet(AuthorizedObjectMixin, viewsets.ModelViewSet):  # type: ignore[misc]
    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    permission_classes = [AuthzGuardPermission]
    filter_backends = [AuthzGuardFilterBackend]  # list: only what the policy allows
    renderer_classes = [JSONRenderer]
    authz_resource = "project"
    authz_actions = {
        "list": "list",
        "retrieve": "view",
        "create": "create",
        "update": "update",
        "partial_update": "update",
        "destroy": "delete",
        "archive": "archive",
    }

    def perform_create(self, serializer: Any) -> None:
        serializer.save(owner=self.request.user)

    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str) -> Response:
        project: Project = self.get_object()
        project.archived = True
        project.save(update_fields=["archived"])
        return Response(self.get_serializer(project).data)


class InvoiceViewSet(  # type: ignore[misc]
    AuthorizedObjectMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Invoices are created under their project: ``create`` is decided on the project."""

    queryset = Invoice.objects.all()
    serializer_class = InvoiceSerializer
    permission_classes = [AuthzGuardPermission]
    filter_backends = [AuthzGuardFilterBackend]  # list: only what the policy allows
    renderer_classes = [JSONRenderer]
    authz_resource = "invoice"
    authz_parent = "project"  # the parent's kind: "project" (authz_parent_resource)
    authz_actions = {"list": "list", "retrieve": "view", "create": "add_invoice"}
