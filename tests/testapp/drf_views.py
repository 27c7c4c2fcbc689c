"""DRF views guarded by AuthzGuardPermission (DRF is the optional ``drf`` extra)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authzguard.contrib.drf import AuthzGuardPermission
from tests.testapp.models import Note, ViewCall


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username"]


class _Base:
    permission_classes = [AuthzGuardPermission]
    authentication_classes = [SessionAuthentication]
    renderer_classes = [JSONRenderer]


class UserDetail(_Base, generics.RetrieveDestroyAPIView):  # type: ignore[misc]
    queryset = User.objects.all()
    serializer_class = UserSerializer
    authz_resource = "user"
    authz_actions = {"GET": "read", "HEAD": "read", "DELETE": "delete"}

    def perform_destroy(self, instance: Any) -> None:
        ViewCall.objects.create(view="api_user_destroy", target=str(instance.pk))
        instance.delete()


class UserList(_Base, generics.ListAPIView):  # type: ignore[misc]
    queryset = User.objects.all()
    serializer_class = UserSerializer
    authz_resource = "user"
    authz_action = "list"


class EndSessions(_Base, APIView):  # type: ignore[misc]
    authz_resource = "session"
    authz_action = "end"
    authz_target = "email"
    authz_source = "body"
    authz_field = "email"

    def post(self, request: Request) -> Response:
        user = request.authz.target  # type: ignore[attr-defined]
        ViewCall.objects.create(view="api_end_sessions", target=str(user.pk))
        return Response({"target": user.pk})


class NoteSerializer(serializers.ModelSerializer[Note]):
    class Meta:
        model = Note
        fields = ["id", "title"]


class NoteViewSet(  # type: ignore[misc]
    _Base, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Retrieve and replace only: the router gives it no list route and no DELETE."""

    queryset = Note.objects.all()
    serializer_class = NoteSerializer
    authz_resource = "note"
    # PUT only: "replace" declares it; no note action declares PATCH, so PATCH is left out.
    http_method_names = ["get", "put", "head", "options"]
    authz_actions = {"retrieve": "read", "update": "replace"}
