from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path
from rest_framework.routers import SimpleRouter

from authzguard.views import status as authzguard_status
from tests.testapp import drf_views, views

router = SimpleRouter()
router.register("api/notes", drf_views.NoteViewSet, basename="api-note")

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("sessions/end/", views.end_sessions, name="end-sessions"),
    path("async/sessions/end/", views.async_end_sessions, name="async-end-sessions"),
    path("users/delete/", views.delete_user, name="delete-user"),
    path("async/users/delete/", views.async_delete_user, name="async-delete-user"),
    path("yaml/users/delete/", views.yaml_delete_user, name="yaml-delete-user"),
    path("users/<str:id>/", views.read_user, name="read-user"),
    path("async/users/", views.async_read_user, name="async-read-user"),
    path("unprotected/users/<int:id>/", views.fetch_user_unprotected, name="unprotected-user"),
    path("notes/by-token/", views.read_note_by_token, name="note-by-token"),
    path("notes/<slug:slug>/replace/", views.replace_note, name="replace-note"),
    path("notes/edit-by-header/", views.edit_note_by_header, name="edit-note-by-header"),
    path("notes/edit-broken/", views.edit_note_broken, name="edit-note-broken"),
    path("notes/mixin/edit-by-header/", views.NoteEditByHeader.as_view(), name="mixin-note-edit"),
    path("notes/edit-strict/", views.edit_note_strict, name="edit-note-strict"),
    path("notes/<int:pk>/", views.NoteDetail.as_view(), name="note-detail"),
    path("async/notes/edit/", views.AsyncNoteEdit.as_view(), name="async-note-edit"),
    path("api/users/", drf_views.UserList.as_view(), name="api-users"),
    path("api/users/<int:pk>/", drf_views.UserDetail.as_view(), name="api-user"),
    path("api/sessions/end/", drf_views.EndSessions.as_view(), name="api-end-sessions"),
    path("notes/edit/", views.NoteEditDispatch.as_view(), name="note-edit-dispatch"),
    path("public/", views.public, name="public"),
    path("unbound/", views.unbound, name="unbound"),
    path("authzguard/status/", authzguard_status, name="authzguard-status"),
]
urlpatterns += router.urls
