"""Rows whose every attribute may be NULL, a parent across a nullable foreign key, and
members (a many-to-many)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Parent(models.Model):
    # NULL and "" differ: the property test needs both (an absent value, an empty one).
    label = models.CharField(max_length=40, null=True)  # noqa: DJ001
    rank = models.IntegerField(null=True)

    def __str__(self) -> str:
        return f"parent {self.pk}"


class Row(models.Model):
    name = models.CharField(max_length=40, null=True)  # noqa: DJ001
    count = models.BigIntegerField(null=True)
    flag = models.BooleanField(null=True)
    code = models.CharField(max_length=40, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    parent = models.ForeignKey(Parent, null=True, on_delete=models.SET_NULL, related_name="rows")
    #: A to-many relation: list filtering tests it in a subquery.
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    def __str__(self) -> str:
        return f"row {self.pk}"

    @property
    def shouted(self) -> str:
        return (self.name or "").upper()
