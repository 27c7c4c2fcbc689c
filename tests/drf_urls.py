"""URLs of tests/testapp/drf_shapes.py (``@pytest.mark.urls("tests.drf_urls")``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from rest_framework.routers import SimpleRouter

from tests.testapp import drf_shapes as v
from tests.testapp.models import Note

router = SimpleRouter()
router.register("notes", v.NoteViewSet, basename="note")
router.register("patched-notes", v.NotePatchedAsEdit, basename="patched-note")

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/<int:pk>/", v.AccountDetail.as_view(), name="account"),
    path("read-only/<int:pk>/", v.AccountReadOnly.as_view(), name="account-read-only"),
    path("plain/<int:pk>/", v.AccountPlain.as_view(), name="account-plain"),
    path("by-user-id/<int:user_id>/", v.AccountByUserId.as_view(), name="account-by-user-id"),
    path("undeclared/<int:user_id>/", v.AccountUndeclaredKwarg.as_view(), name="undeclared"),
    path("public-notes/<slug:slug>/", v.PublicNote.as_view(), name="public-note"),
    path(
        "initkwargs-notes/<slug:slug>/",
        v.NoteByInitkwargs.as_view(queryset=Note.objects.filter(title__startswith="public")),
        name="initkwargs-note",
    ),
    path("swapped/<int:pk>/", v.SwappedNote.as_view(), name="swapped-note"),
    path("gadgets/<int:pk>/", v.Modelless.as_view(), name="gadget"),
    *router.urls,
]
