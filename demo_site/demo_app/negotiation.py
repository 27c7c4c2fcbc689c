"""Whether a request wants JSON: API clients get JSON errors, people get pages."""

from __future__ import annotations

from django.http import HttpRequest


def is_json_type(content_type: str) -> bool:
    """``application/json`` or any ``application/*+json``."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def wants_json(request: HttpRequest) -> bool:
    """An ``Accept`` header preferring JSON to HTML; without one, a JSON request body."""
    accept = request.headers.get("Accept", "")
    if accept and accept.strip() != "*/*":
        return request.get_preferred_type(["text/html", "application/json"]) == "application/json"
    return is_json_type(request.content_type or "")
