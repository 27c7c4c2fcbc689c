"""The example app in Django's admin, following the policy (``AuthzGuardAdminMixin``).

Registered on a site of its own (tests/projectapp/admin_urls.py), so that only the admin
tests' settings install django.contrib.admin.
"""

from __future__ import annotations

from django.contrib import admin

from authzguard.contrib.admin import AuthzGuardAdminMixin
from tests.projectapp.models import Invoice, Project

site = admin.AdminSite(name="admin")


class ProjectAdmin(AuthzGuardAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    authz_resource = "project"
    list_display = ["name", "owner", "archived"]
    list_editable = ["archived"]
    fields = ["name", "archived"]


class InvoiceAdmin(AuthzGuardAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: the policy gives invoices no edit or delete action."""

    authz_resource = "invoice"
    authz_change_action = None
    authz_delete_action = None
    list_display = ["project", "amount", "status"]


site.register(Project, ProjectAdmin)
site.register(Invoice, InvoiceAdmin)
