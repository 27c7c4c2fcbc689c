"""The DRF shapes of ``docs/views.md``, right and wrong, for tests/test_drf_*.py.

Served by ``tests/drf_urls.py`` under ``tests/drf_policies/drf.yaml``. Every handler that
runs writes a :class:`ViewCall`, so a test can tell that a refused request ran nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from rest_framework import generics, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authzguard.contrib.drf import AuthzGuardPermission
from tests.testapp.models import Note, ViewCall


class AccountSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username"]


class NoteSerializer(serializers.ModelSerializer[Note]):
    class Meta:
        model = Note
        fields = ["id", "title", "slug"]


class _Guarded:
    permission_classes = [AuthzGuardPermission]
    authentication_classes = [SessionAuthentication]
    renderer_classes = [JSONRenderer]


class _Destroys:
    def perform_destroy(self, instance: Any) -> None:
        ViewCall.objects.create(view=type(self).__name__, target=str(instance.pk))
        instance.delete()


class AccountDetail(_Guarded, _Destroys, generics.RetrieveDestroyAPIView):  # type: ignore[misc]
    """The right shape: each method its own action."""

    queryset = User.objects.all()
    serializer_class = AccountSerializer
    authz_resource = "user"
    authz_actions = {"GET": "read", "DELETE": "delete"}


class AccountReadOnly(_Guarded, _Destroys, generics.RetrieveDestroyAPIView):  # type: ignore[misc]
    """One safe action for a view that also deletes (authzguard.E030): DELETE is a 405."""

    queryset = User.objects.all()
    serializer_class = AccountSerializer
    authz_resource = "user"
    authz_action = "read"


class NoteViewSet(_Guarded, viewsets.ModelViewSet):  # type: ignore[misc]
    """Every viewset action mapped; updates to "update", which declares PUT and PATCH."""

    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    authz_resource = "note"
    authz_actions = {
        "list": "list",
        "create": "create",
        "retrieve": "read",
        "update": "update",
        "partial_update": "update",
        "destroy": "delete",
    }

    def perform_create(self, serializer: Any) -> None:
        serializer.save(owner=self.request.user)

    def perform_update(self, serializer: Any) -> None:
        ViewCall.objects.create(view="NoteViewSet.update", target=str(serializer.instance.pk))
        serializer.save()


class NotePatchedAsEdit(NoteViewSet):
    """PATCH mapped to "edit", which does not declare it (authzguard.E031): a 405."""

    authz_actions = {"retrieve": "read", "partial_update": "edit"}


class AccountPlain(_Guarded, APIView):  # type: ignore[misc]
    """A plain APIView that reads its own object and never calls get_object()."""

    authz_resource = "user"
    authz_actions = {"GET": "read", "DELETE": "delete"}

    def get(self, request: Request, pk: int) -> Response:
        user = User.objects.get(pk=pk)
        ViewCall.objects.create(view="AccountPlain.get", target=str(pk))
        return Response({"id": user.pk, "username": user.username, "email": user.email})

    def delete(self, request: Request, pk: int) -> Response:
        ViewCall.objects.create(view="AccountPlain.delete", target=str(pk))
        User.objects.filter(pk=pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountByUserId(AccountPlain):
    """The object is named by another kwarg, declared as the lookup kwarg."""

    lookup_url_kwarg = "user_id"

    def get(self, request: Request, user_id: int) -> Response:  # type: ignore[override]
        return super().get(request, pk=user_id)


class AccountUndeclaredKwarg(AccountPlain):
    """A kwarg that is not the lookup kwarg (authzguard.E033): refused, never decided open."""

    def get(self, request: Request, user_id: int) -> Response:  # type: ignore[override]
        return super().get(request, pk=user_id)


class PublicNote(_Guarded, generics.RetrieveAPIView):  # type: ignore[misc]
    """Only get_queryset() says where notes are found (titles starting with "public")."""

    serializer_class = NoteSerializer
    authz_resource = "note"
    authz_action = "read"
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Note]:
        return Note.objects.filter(title__startswith="public")


class NoteByInitkwargs(_Guarded, generics.RetrieveAPIView):  # type: ignore[misc]
    """Its queryset comes from ``as_view(queryset=...)`` (see tests/drf_urls.py)."""

    serializer_class = NoteSerializer
    authz_resource = "note"
    authz_action = "read"
    lookup_field = "slug"


class SwappedNote(_Guarded, generics.RetrieveAPIView):  # type: ignore[misc]
    """A get_object() that fetches another object than the URL names: refused."""

    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    authz_resource = "note"
    authz_action = "read"

    def get_object(self) -> Note:
        other = Note.objects.exclude(pk=self.kwargs["pk"]).order_by("pk").first()
        self.check_object_permissions(self.request, other)
        return other  # type: ignore[return-value]


class Modelless(_Guarded, APIView):  # type: ignore[misc]
    """A detail view whose kind has no model and which has no queryset (authzguard.E032)."""

    authz_resource = "gadget"
    authz_action = "read"

    def get(self, request: Request, pk: int) -> Response:
        return Response({"id": pk})
