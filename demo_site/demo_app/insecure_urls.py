"""``/insecure/``: the original views, mounted only when ``DEMO_INSECURE=1``."""

from __future__ import annotations

from django.urls import path

from demo_app import insecure

app_name = "insecure"
urlpatterns = [
    path("", insecure.index, name="index"),
    path("sessions/end/", insecure.end_sessions, name="end-sessions"),
    path("users/delete/", insecure.delete_user, name="delete-user"),
]
