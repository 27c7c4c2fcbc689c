"""The two original views, with the flaws that started the project. DO NOT COPY.

Mounted under ``/insecure/`` only when ``DEMO_INSECURE=1``, so the attacks in
``docs/tutorial.md`` can be run against them and then against the protected views
in ``views.py``. Both check that someone is signed in, and neither asks whether
*that* person may act on the object named by the request: an IDOR.

- ``end_sessions``: ``POST email=...`` ends every session of whoever owns that email.
- ``delete_user``: ``GET ?id=...`` (or ``POST id=...``) deletes that user; a GET that
  deletes is also a cross-site request forgery waiting for an ``<img src>``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from authzguard.sessions import purge_user_sessions


def _body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise BadRequest("malformed JSON body") from exc
        if not isinstance(data, dict):
            raise BadRequest("JSON body must be an object")
        return data
    return request.POST.dict()


def index(request: HttpRequest) -> Any:
    return render(request, "demo_app/insecure.html")


@login_required
@require_POST
def end_sessions(request: HttpRequest) -> JsonResponse:
    email = _body(request).get("email")
    user = get_object_or_404(get_user_model(), email=email)  # whoever owns it: the flaw
    ended = purge_user_sessions(user, reason="insecure-demo")
    return JsonResponse({"ended": ended})


@login_required
def delete_user(request: HttpRequest) -> JsonResponse:
    user_id = request.GET.get("id") or _body(request).get("id")
    user = get_object_or_404(get_user_model(), id=user_id)  # any id, any caller: the flaw
    deleted = user.pk
    user.delete()
    return JsonResponse({"deleted": deleted})
