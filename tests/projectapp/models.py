"""An ordinary app, as a new user builds one: projects (an owner, a team) and invoices."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Project(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_projects"
    )
    #: Team members view and list the project (``members: {type: list, field: team}``).
    team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="team_projects"
    )
    name = models.CharField(max_length=100)
    archived = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/projects/{self.pk}/"


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SENT = "sent"
        PAID = "paid"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invoices")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)

    def __str__(self) -> str:
        return f"{self.project} #{self.pk}"

    def get_absolute_url(self) -> str:
        return f"/invoices/{self.pk}/"
