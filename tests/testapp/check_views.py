"""Misconfigured views, mounted only by tests/testapp/check_urls.py for the system checks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View

from authzguard.decorators import authorize
from authzguard.mixins import AuthorizeMixin


def _ok(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return JsonResponse({})


csrf_exempt_delete = csrf_exempt(authorize("delete", "user", target="id", source="body")(_ok))
undeclared_action = authorize("destroy", "user", target="id")(_ok)
undeclared_kind = authorize("delete", "account", target="id")(_ok)
unknown_field = authorize("delete", "user", target="id", field="nickname")(_ok)
unknown_model = authorize("delete", "user", target="id", model="nope.Missing")(_ok)
path_not_captured = authorize("read", "user", target="user_id", source="path")(_ok)
bound_twice = authorize("delete", "user", target="id", source="body")(_ok)
bad_resolver_route = _ok
csrf_exempt_read = csrf_exempt(authorize("read", "user", target="id", source="query")(_ok))


def unbound(request: HttpRequest) -> HttpResponse:
    return JsonResponse({})


class MixinWithoutAction(AuthorizeMixin, View):
    authz_resource = "user"
