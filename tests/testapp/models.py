from __future__ import annotations

import uuid
from typing import Any

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


class ShownManager(models.Manager["Shelved"]):
    """A default manager that filters: the kind of manager a lookup must never bypass."""

    def get_queryset(self) -> models.QuerySet[Shelved]:
        return super().get_queryset().filter(hidden=False)


class Shelved(models.Model):
    """Rows the default manager hides."""

    name = models.CharField(max_length=40)
    hidden = models.BooleanField(default=False)

    objects = ShownManager()

    def __str__(self) -> str:
        return self.name


class ShoutingField(models.CharField):  # type: ignore[type-arg]
    """A field whose database value is converted on the way out (``from_db_value``)."""

    def from_db_value(
        self, value: str | None, expression: object, connection: object
    ) -> str | None:
        return value.upper() if value is not None else None


class PinnedNote(Note):
    """Multi-table inheritance: the lookup joins the parent's table."""

    pinned_at = models.DateTimeField()
    label = ShoutingField(max_length=40, default="pinned")


class NoteProxy(Note):
    """A proxy: the lookup builds instances of the proxy class, as the ORM does."""

    class Meta:
        proxy = True


class TitledNote(Note):
    """A proxy that shadows a field with a property: the property is what code reads."""

    class Meta:
        proxy = True

    @property
    def title(self) -> str:
        return f"shadowed {self._title}"

    @title.setter
    def title(self, value: str) -> None:
        self._title = value


class CodeField(models.CharField):  # type: ignore[type-arg]
    """A field with its own ``exact`` lookup: codes compare case-insensitively."""


@CodeField.register_lookup
class CodeExact(models.lookups.Exact):
    lookup_name = "exact"

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        return ("%s", [str(value).lower()])


class Coupon(models.Model):
    code = CodeField(max_length=20)
    holder = models.CharField(max_length=20)

    def __str__(self) -> str:
        return str(self.code)


#: The tenant of the current request, as a tenancy middleware would set it.
CURRENT_TENANT = {"id": 1}


class TenantManager(models.Manager["TenantDoc"]):
    """Keeps ``get_queryset`` but filters in ``filter()``: by request state."""

    def filter(self, *args: Any, **kwargs: Any) -> models.QuerySet[TenantDoc]:
        return super().filter(*args, tenant=CURRENT_TENANT["id"], **kwargs)


class TenantDoc(models.Model):
    tenant = models.IntegerField()
    name = models.CharField(max_length=20)

    objects = TenantManager()

    def __str__(self) -> str:
        return self.name


class DashIsNullField(models.CharField):  # type: ignore[type-arg]
    """Prepares ``"-"`` as ``None``: the ORM then compares with ``IS NULL``."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value == "-" else value


class Badge(models.Model):
    code = DashIsNullField(max_length=20, null=True)
    name = models.CharField(max_length=20)

    def __str__(self) -> str:
        return self.name


#: The aliases ``ReplicaQuerySet.using`` was asked for.
USING_CALLS: list[str | None] = []


class ReplicaQuerySet(models.QuerySet["Archived"]):
    """Its own ``using()``: reads meant for a "replica" alias go to the primary."""

    def using(self, alias: str | None) -> ReplicaQuerySet:
        USING_CALLS.append(alias)
        return super().using("default" if alias == "replica" else alias)


class Archived(models.Model):
    name = models.CharField(max_length=20)

    objects = ReplicaQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name
