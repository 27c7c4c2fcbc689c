from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Note(models.Model):
    """A resource with an owner: the shape of most IDOR targets."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    slug = models.SlugField(max_length=40, unique=True)
    token = models.UUIDField(default=uuid.uuid4, unique=True)
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title


class ViewCall(models.Model):
    """One row per executed view body: the side effect a denied request must not have."""

    view = models.CharField(max_length=100)
    target = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"{self.view}({self.target})"
