"""A filtered list page and a DRF viewset over the same rows (tests/test_filtering.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.views.generic import ListView
from rest_framework import serializers, viewsets

from authzguard import AuthorizedListMixin
from authzguard.contrib.drf import AuthzGuardFilterBackend, AuthzGuardPermission
from tests.filterapp.models import Row


class RowList(AuthorizedListMixin, ListView):  # type: ignore[type-arg]
    model = Row
    authz_action = "list"
    authz_resource = "row"

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        return JsonResponse({"rows": sorted(row.pk for row in context["object_list"])})


class RowExportList(RowList):
    """Filtered by a rule that reads a property: refused at start-up (authzguard.E071)."""

    authz_action = "export"


class RowSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Row
        fields = ["id", "name"]


class RowViewSet(viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    queryset = Row.objects.all()
    serializer_class = RowSerializer
    permission_classes = [AuthzGuardPermission]
    filter_backends = [AuthzGuardFilterBackend]
    authz_resource = "row"
    authz_actions = {"list": "list", "retrieve": "view"}


class RowExportViewSet(RowViewSet):
    """Its ``list`` is filtered by the rule that reads a property: authzguard.E071."""

    authz_actions = {"list": "export", "retrieve": "view"}
