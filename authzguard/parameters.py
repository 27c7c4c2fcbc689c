"""Reading a target parameter from a request and validating it, before any query.

- the parameter must appear exactly once, in exactly one place (path kwargs, query
  string, form body or JSON body); anything else is a :class:`ParameterError`;
- values are validated against the model field (ASCII digits only for integer keys,
  canonical UUIDs, printable bounded strings); a bad value is a :class:`ParameterError`
  (400), never a database error.

A request body is read as a form or as JSON according to its ``Content-Type``, never
both, and is parsed at most once per request.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.core.signals import setting_changed
from django.db import connections, models
from django.dispatch import receiver
from django.http import HttpRequest, UnreadablePostError

from authzguard.conf import settings
from authzguard.exceptions import ParameterError

#: Where a target parameter may come from (``body``: form or JSON, by content type).
PARAMETER_SOURCES: frozenset[str] = frozenset({"path", "query", "form", "json", "body"})

_INTEGER_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
    }
)
_STRING_TYPES = frozenset(
    {"CharField", "EmailField", "SlugField", "TextField", "URLField", "GenericIPAddressField"}
)
# Canonical decimal only: no sign, no leading zeros, no whitespace, no other scripts' digits.
_DIGITS = re.compile(r"(?:0|[1-9][0-9]*)", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INT64 = (-(2**63), 2**63 - 1)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_json(content_type: str) -> bool:
    """Whether a media type is JSON: ``application/json`` or any ``application/*+json``."""
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _reject_constant(name: str) -> object:
    raise ValueError(f"JSON constant {name} is not allowed")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ParameterError(f"JSON body repeats the key {key!r}", parameter=key)
        result[key] = value
    return result


def json_body(request: HttpRequest) -> Mapping[str, Any]:
    """The JSON object in the request body ({} if the body is not JSON), parsed once."""
    cached: Mapping[str, Any] | None = getattr(request, "_authzguard_json", None)
    if cached is not None:
        return cached
    parsed: Mapping[str, Any] = {}
    if is_json(request.content_type or "") and request.body:
        try:
            value = json.loads(
                request.body,
                object_pairs_hook=_no_duplicate_keys,
                parse_constant=_reject_constant,
            )
        except ParameterError:
            raise
        except (ValueError, RecursionError) as exc:
            raise ParameterError(f"the JSON body does not parse: {exc}") from None
        if isinstance(value, dict):
            parsed = value
    request._authzguard_json = parsed  # type: ignore[attr-defined]
    return parsed


def _occurrences(
    request: HttpRequest, name: str, view_kwargs: Mapping[str, Any]
) -> list[tuple[str, object]]:
    """Every (source, value) pair carrying ``name`` anywhere in the request."""
    found: list[tuple[str, object]] = []
    if name in view_kwargs:
        found.append(("path", view_kwargs[name]))
    # Skip building an empty QueryDict on the hot path, but always read a GET that
    # something already built or replaced: that is what the view will read.
    if request.META.get("QUERY_STRING") or "GET" in request.__dict__:
        found.extend(("query", v) for v in request.GET.getlist(name))
    content_type = request.content_type or ""
    if content_type in _FORM_TYPES:
        found.extend(("form", v) for v in request.POST.getlist(name))
        if name in request.FILES:
            found.append(("form", request.FILES.getlist(name)))
    elif is_json(content_type):
        body = json_body(request)
        if name in body:
            found.append(("json", body[name]))
    return found


def extract_parameter(
    request: HttpRequest, name: str, source: str | None, view_kwargs: Mapping[str, Any]
) -> tuple[object, str]:
    """Return ``(raw value, source)`` for the single occurrence of ``name``.

    ``source`` restricts where the value may come from (``body`` is form or JSON);
    ``None`` accepts any one place. Repeats anywhere, even outside ``source``, are refused.
    """
    try:
        found = _occurrences(request, name, view_kwargs)
    except (RequestDataTooBig, SuspiciousOperation, UnreadablePostError) as exc:
        raise ParameterError(f"the request body cannot be read: {exc}", parameter=name) from None
    if not found:
        raise ParameterError(f"missing parameter {name!r}", parameter=name)
    if len(found) > 1:
        places = ", ".join(sorted({where for where, _ in found}))
        raise ParameterError(
            f"parameter {name!r} is given {len(found)} times ({places})", parameter=name
        )
    where, value = found[0]
    allowed = {"form", "json"} if source == "body" else {source} if source else PARAMETER_SOURCES
    if where not in allowed:
        raise ParameterError(f"parameter {name!r} must come from {source}", parameter=name)
    return value, where


@lru_cache(maxsize=64)
def _integer_bounds(using: str, internal: str) -> tuple[int, int]:
    """The accepted range of an integer field type on a database: the backend's own,
    clipped to 64 bits. Remembered: looking the connection up costs more than the check."""
    low, high = connections[using].ops.integer_field_range(internal)
    return (
        _INT64[0] if low is None else max(low, _INT64[0]),
        _INT64[1] if high is None else min(high, _INT64[1]),
    )


@receiver(setting_changed)
def _on_databases_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "DATABASES":
        _integer_bounds.cache_clear()


def clean_value(
    raw: object,
    field: models.Field[Any, Any],
    *,
    max_length: int | None,
    parameter: str,
    using: str,
) -> object:
    """Validate ``raw`` for ``field`` before it reaches a query; ``ParameterError`` if bad.

    ``max_length`` bounds string values (``None``: ``AUTHZGUARD_MAX_PARAMETER_LENGTH``);
    integer keys and UUIDs have their own, tighter bounds.
    """
    bad = f"malformed value for parameter {parameter!r}"
    if raw is None or isinstance(raw, (bool, float, list, dict, tuple)):
        raise ParameterError(f"{bad}: a {type(raw).__name__} is not an identifier", parameter)
    internal = field.get_internal_type()
    if internal in _INTEGER_TYPES:
        if isinstance(raw, int) and raw >= 0:
            value = raw
        elif isinstance(raw, str) and len(raw) <= 20 and _DIGITS.fullmatch(raw):
            value = int(raw)
        else:
            raise ParameterError(f"{bad}: expected ASCII digits", parameter)
        low, high = _integer_bounds(using, internal)
        if not low <= value <= high:
            raise ParameterError(f"{bad}: out of range", parameter)
        return value
    if internal == "UUIDField":
        if isinstance(raw, uuid.UUID):
            return raw
        if isinstance(raw, str) and _UUID.fullmatch(raw):
            return uuid.UUID(raw)
        raise ParameterError(f"{bad}: expected a UUID", parameter)
    if not isinstance(raw, str):
        raise ParameterError(f"{bad}: expected a string", parameter)
    # Read here, not by the caller: only string values need it.
    max_length = max_length or settings.MAX_PARAMETER_LENGTH
    limit = min(max_length, getattr(field, "max_length", None) or max_length)
    if not raw or len(raw) > limit:
        raise ParameterError(f"{bad}: empty or longer than {limit} characters", parameter)
    # Control characters, lone surrogates and NUL reach some databases as errors (500s).
    if not raw.isprintable() or raw != raw.strip():
        raise ParameterError(f"{bad}: unprintable characters or surrounding spaces", parameter)
    if internal in _STRING_TYPES:
        return raw
    try:
        return field.to_python(raw)
    except (ValidationError, ValueError, TypeError, ArithmeticError):
        raise ParameterError(bad, parameter) from None
