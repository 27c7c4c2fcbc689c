"""Views for the enforcement tests: the two seed flows, sync and async, and variants."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views import View
from django.views.generic import DetailView

from authzguard.decorators import authorize, authz_exempt
from authzguard.exceptions import ParameterError
from authzguard.mixins import AuthorizeMixin
from tests.testapp.models import Note, ViewCall

User = get_user_model()


def _record(view: str, target: object = "") -> None:
    ViewCall.objects.create(view=view, target=str(target))


def _end_sessions_of(user: Any) -> int:
    ended = 0
    for session in Session.objects.all():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


# -- seed flow 1: end the sessions of the user with this email -----------------------------


@authorize("end", "session", target="email", source="body", field="email")
def end_sessions(request: HttpRequest) -> HttpResponse:
    user = request.authz.target  # type: ignore[attr-defined]
    _record("end_sessions", user.pk)
    return JsonResponse({"ended": _end_sessions_of(user)})


@authorize("end", "session", target="email", source="body", field="email")
async def async_end_sessions(request: HttpRequest) -> HttpResponse:
    user = request.authz.target  # type: ignore[attr-defined]
    await ViewCall.objects.acreate(view="async_end_sessions", target=str(user.pk))
    ended = 0
    async for session in Session.objects.all():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            await session.adelete()
            ended += 1
    return JsonResponse({"ended": ended})


# -- seed flow 2: delete the user with this id ---------------------------------------------


@authorize("delete", "user", target="id", source="body", pass_as="target_user")
def delete_user(request: HttpRequest, target_user: Any) -> HttpResponse:
    _record("delete_user", target_user.pk)
    pk = target_user.pk
    target_user.delete()
    return JsonResponse({"deleted": pk})


@authorize("delete", "user", target="id", source="body", pass_as="target_user")
async def async_delete_user(request: HttpRequest, target_user: Any) -> HttpResponse:
    await ViewCall.objects.acreate(view="async_delete_user", target=str(target_user.pk))
    pk = target_user.pk
    await target_user.adelete()
    return JsonResponse({"deleted": pk})


def yaml_delete_user(request: HttpRequest, target_user: Any) -> HttpResponse:
    """No decorator: bound by the policy's ``routes:`` section."""
    _record("yaml_delete_user", target_user.pk)
    pk = target_user.pk
    target_user.delete()
    return JsonResponse({"deleted": pk})


# -- reads: path and query parameters ------------------------------------------------------


@authorize("read", "user", target="id", source="path")
def read_user(request: HttpRequest, id: str) -> HttpResponse:
    user = request.authz.target  # type: ignore[attr-defined]
    return JsonResponse({"id": user.pk, "username": user.username})


@authorize("read", "user", target="id", source="query")
async def async_read_user(request: HttpRequest) -> HttpResponse:
    user = request.authz.target  # type: ignore[attr-defined]
    return JsonResponse({"id": user.pk, "username": user.username})


@login_required
def fetch_user_unprotected(request: HttpRequest, id: int) -> HttpResponse:
    """The baseline for query counts: a signed-in check, then the view fetches its target."""
    user = User.objects.get(pk=id)
    return JsonResponse({"id": user.pk, "username": user.username})


@authorize("read", "note", target="token", source="query", field="token")
def read_note_by_token(request: HttpRequest) -> HttpResponse:
    note = request.authz.target  # type: ignore[attr-defined]
    return JsonResponse({"id": note.pk, "owner": note.owner.username})


@authorize("replace", "note", target="slug", source="path", field="slug")
def replace_note(request: HttpRequest, slug: str) -> HttpResponse:
    note = request.authz.target  # type: ignore[attr-defined]
    _record("replace_note", note.pk)
    return JsonResponse({"id": note.pk})


# -- custom resolvers ----------------------------------------------------------------------


def note_from_header(request: HttpRequest, **kwargs: Any) -> Note | None:
    slug = request.headers.get("X-Note", "")
    if not slug.isascii() or not slug:
        raise ParameterError("X-Note header missing or not ASCII", parameter="X-Note")
    return Note.objects.filter(slug=slug).first()


def strict_resolver(request: HttpRequest, **kwargs: Any) -> Note:
    """Django's own exceptions: get_object_or_404 and a ValidationError."""
    slug = request.headers.get("X-Note", "")
    if not slug.isascii() or not slug.isalnum():
        raise ValidationError("bad slug")
    return get_object_or_404(Note, slug=slug)


@authorize("edit", "note", target=strict_resolver)
def edit_note_strict(request: HttpRequest) -> HttpResponse:
    _record("edit_note_strict", request.authz.target.pk)  # type: ignore[attr-defined]
    return JsonResponse({})


def broken_resolver(request: HttpRequest, **kwargs: Any) -> Note:
    raise RuntimeError("the resolver blew up")


@authorize("edit", "note", target=note_from_header)
def edit_note_by_header(request: HttpRequest) -> HttpResponse:
    note = request.authz.target  # type: ignore[attr-defined]
    _record("edit_note_by_header", note.pk)
    return JsonResponse({"id": note.pk})


@authorize("edit", "note", target=broken_resolver)
def edit_note_broken(request: HttpRequest) -> HttpResponse:
    _record("edit_note_broken")
    return JsonResponse({})


# -- class-based views ---------------------------------------------------------------------


class NoteDetail(AuthorizeMixin, DetailView):  # type: ignore[type-arg]
    model = Note
    authz_action = "read"
    authz_resource = "note"
    authz_target = "pk"
    authz_source = "path"

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        _record("note_detail", self.object.pk)
        return JsonResponse({"id": self.object.pk, "title": self.object.title})


class AsyncNoteEdit(AuthorizeMixin, View):
    authz_action = "edit"
    authz_resource = "note"
    authz_target = "slug"
    authz_source = "form"
    authz_field = "slug"
    authz_pass_as = "note"

    async def post(self, request: HttpRequest, note: Note) -> HttpResponse:
        await ViewCall.objects.acreate(view="async_note_edit", target=str(note.pk))
        return JsonResponse({"id": note.pk})


class NoteEditByHeader(AuthorizeMixin, View):
    """The mixin with a custom resolver: the object comes with no relation joined."""

    authz_action = "edit"
    authz_resource = "note"
    authz_target = note_from_header

    def post(self, request: HttpRequest) -> HttpResponse:
        _record("note_edit_by_header_mixin", request.authz.target.pk)  # type: ignore[attr-defined]
        return JsonResponse({})


@method_decorator(
    authorize("edit", "note", target="slug", source="form", field="slug", pass_as="note"),
    name="dispatch",
)
class NoteEditDispatch(View):
    def post(self, request: HttpRequest, note: Note) -> HttpResponse:
        _record("note_edit_dispatch", note.pk)
        return JsonResponse({"id": note.pk})


# -- public, unbound, csrf-exempt ----------------------------------------------------------


@authz_exempt
def public(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"public": True})


def unbound(request: HttpRequest) -> HttpResponse:
    _record("unbound")
    return JsonResponse({"unbound": True})
