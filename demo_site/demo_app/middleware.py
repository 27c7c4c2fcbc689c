"""A page for people where Django answers a wrong method with an empty 405."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from demo_app.negotiation import wants_json


class MethodNotAllowedPageMiddleware:
    """Render ``405.html`` for an empty 405 (e.g. opening ``/users/delete/`` in a browser).

    The status and the ``Allow`` header stay as they were; API clients keep the bare 405.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.content or wants_json(request):
            return response
        response.content = render_to_string(
            "405.html", {"allowed": response.get("Allow", "")}, request=request
        ).encode()
        response["Content-Type"] = "text/html; charset=utf-8"
        return response
