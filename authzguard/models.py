"""Database models: the session index and the signed-cookie session generations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IndexedSession(models.Model):
    """One authenticated session of one user, so a user's sessions can be found without a scan.

    ``session_key`` is the store's own key (a bearer secret): it is needed to delete the
    store entry, so treat this table like the session store itself and never log it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=True
    )
    session_key = models.CharField(max_length=40, unique=True)
    created = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True, default="")

    class Meta:
        app_label = "authzguard"
        verbose_name = "indexed session"

    def __str__(self) -> str:
        # Never the key: this string ends up in logs and admin pages.
        return f"session #{self.pk} of user {self.user_id}"


class SessionGeneration(models.Model):
    """The current session generation of one user, for the ``signed_cookies`` engine.

    Keyed by the user's primary key as a string (the form the session stores) and
    deliberately without a foreign key, so the counter outlives a deleted user and a
    re-used primary key cannot revive an old cookie.
    """

    user_pk = models.CharField(max_length=255, primary_key=True)
    generation = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "authzguard"

    def __str__(self) -> str:
        return f"user {self.user_pk}: generation {self.generation}"
