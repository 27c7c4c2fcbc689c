from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from authzguard.sessions.views import LoginView
from authzguard.views import status as authzguard_status
from demo_app import views

handler400 = "demo_app.views.bad_request"
handler403 = "demo_app.views.permission_denied"
handler404 = "demo_app.views.page_not_found"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("whoami/", views.whoami, name="whoami"),
    # authzguard's LoginView: a user deleted while signing in gets the form back, not a 500.
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sessions/", views.my_sessions, name="my-sessions"),
    path("sessions/end/", views.end_sessions, name="end-sessions"),
    path("sessions/end-others/", views.end_other_sessions, name="end-other-sessions"),
    path("sessions/end-one/", views.end_one_session, name="end-one-session"),
    path("users/", views.user_list, name="user-list"),
    path("users/delete/", views.delete_user, name="delete-user"),
    # Staff only: which policy version every worker runs (docs/operations.md).
    path("authzguard/status/", authzguard_status, name="authzguard-status"),
]

if settings.DEMO_INSECURE:
    urlpatterns.append(path("insecure/", include("demo_app.insecure_urls")))
