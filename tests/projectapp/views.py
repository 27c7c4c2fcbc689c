"""The example app's views: Django's generic views with ``AuthorizeMixin``, as documented."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse_lazy
from django.views import View
from django.views.generic import CreateView, DeleteView, DetailView, FormView, ListView, UpdateView

from authzguard import AuthorizedListMixin, AuthorizeMixin
from tests.projectapp.models import Invoice, Project


class ProjectCreate(AuthorizeMixin, CreateView):  # type: ignore[type-arg]
    """No parent: decided on the kind alone; the new project belongs to its creator."""

    model = Project
    fields = ["name"]
    authz_action = "create"
    authz_resource = "project"

    def form_valid(self, form: Any) -> HttpResponse:
        form.instance.owner = self.request.user
        return super().form_valid(form)


class ProjectDetail(AuthorizeMixin, DetailView):  # type: ignore[type-arg]
    model = Project
    authz_action = "view"
    authz_resource = "project"
    authz_target = "pk"
    authz_source = "path"


class ProjectUpdate(AuthorizeMixin, UpdateView):  # type: ignore[type-arg]
    model = Project
    fields = ["name"]
    authz_action = "edit"
    authz_resource = "project"
    authz_target = "pk"
    authz_source = "path"


class ProjectDelete(AuthorizeMixin, DeleteView):  # type: ignore[type-arg]
    model = Project
    success_url = reverse_lazy("project-list")
    authz_action = "delete"
    authz_resource = "project"
    authz_target = "pk"
    authz_source = "path"


class ArchiveForm(forms.Form):
    confirm = forms.BooleanField()


class ProjectArchive(AuthorizeMixin, FormView):  # type: ignore[type-arg]
    """A form about an object that is no model form: the object is ``request.authz.target``."""

    form_class = ArchiveForm
    template_name = "projectapp/project_archive.html"
    authz_action = "archive"
    authz_resource = "project"
    authz_target = "pk"
    authz_source = "path"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(project=self.request.authz.target, **kwargs)  # type: ignore[attr-defined]

    def form_valid(self, form: ArchiveForm) -> HttpResponse:
        project: Project = self.request.authz.target  # type: ignore[attr-defined]
        project.archived = True
        project.save(update_fields=["archived"])
        self.success_url = project.get_absolute_url()
        return super().form_valid(form)


class ProjectList(AuthorizedListMixin, ListView):  # type: ignore[type-arg]
    model = Project
    authz_action = "list"
    authz_resource = "project"


class InvoiceCreate(AuthorizeMixin, CreateView):  # type: ignore[type-arg]
    """Authorized against the project the invoice is for (``?project=`` on GET)."""

    model = Invoice
    fields = ["project", "amount", "status"]
    authz_action = "add_invoice"
    authz_resource = "project"
    authz_parent = "project"


class InvoiceDetail(AuthorizeMixin, DetailView):  # type: ignore[type-arg]
    model = Invoice
    authz_action = "view"
    authz_resource = "invoice"
    authz_target = "pk"
    authz_source = "path"


class InvoiceList(AuthorizedListMixin, ListView):  # type: ignore[type-arg]
    model = Invoice
    authz_action = "list"
    authz_resource = "invoice"


class ProjectRename(AuthorizeMixin, View):
    """An async view whose methods do different things: one action per method."""

    authz_actions = {"GET": "view", "POST": "edit"}
    authz_resource = "project"
    authz_target = "pk"
    authz_source = "path"

    async def get(self, request: HttpRequest, pk: int) -> JsonResponse:
        project: Project = request.authz.target  # type: ignore[attr-defined]
        return JsonResponse({"name": project.name})

    async def post(self, request: HttpRequest, pk: int) -> JsonResponse:
        project: Project = request.authz.target  # type: ignore[attr-defined]
        project.name = request.POST.get("name", project.name)[:100]
        await project.asave(update_fields=["name"])
        return JsonResponse({"name": project.name})
