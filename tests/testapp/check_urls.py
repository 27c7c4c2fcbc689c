from __future__ import annotations

from django.urls import include, path

from tests.testapp import check_views as v

inner = (
    [path("gone/", v.unbound, name="unbound-inner")],
    "inner",
)

urlpatterns = [
    path("a/", v.csrf_exempt_delete, name="csrf-exempt-delete"),
    path("b/", v.undeclared_action, name="undeclared-action"),
    path("c/", v.undeclared_kind, name="undeclared-kind"),
    path("d/", v.unknown_field, name="unknown-field"),
    path("e/", v.unknown_model, name="unknown-model"),
    path("f/<int:id>/", v.path_not_captured, name="path-not-captured"),
    path("g/", v.bound_twice, name="bound-twice"),
    path("h/", v.bad_resolver_route, name="bad-resolver"),
    path("i/", v.csrf_exempt_read, name="csrf-exempt-read"),
    path("j/", v.unbound, name="unbound"),
    path("k/", v.MixinWithoutAction.as_view(), name="mixin-without-action"),
    path("ns/", include(inner)),
]
