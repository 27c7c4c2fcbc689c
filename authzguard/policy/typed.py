"""Attribute values as typed JSON (``{"type": "int", "value": 7}``), so that a value read
back is the value written: ``"7"`` and ``7`` stay apart, and a value JSON cannot carry
faithfully is marked ``unsupported`` instead of being turned into a string."""

from __future__ import annotations

from typing import Any

_PLAIN: dict[type, str] = {bool: "bool", int: "int", str: "str", float: "float"}


class UntypedValue(ValueError):
    """A typed value that cannot be read back as the value it was."""


def encode(value: object) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    kind = _PLAIN.get(type(value))
    if kind is not None:
        return {"type": kind, "value": value}
    if type(value) in (list, tuple):
        return {"type": "list", "value": [encode(item) for item in value]}  # type: ignore[attr-defined]
    return {"type": "unsupported", "python": type(value).__name__, "text": str(value)[:200]}


def decode(data: object) -> object:
    """The value ``encode`` wrote; :class:`UntypedValue` for anything else."""
    if not isinstance(data, dict):
        raise UntypedValue(f"not a typed value: {data!r}")
    kind = data.get("type")
    if kind == "null":
        return None
    if kind == "list" and isinstance(data.get("value"), list):
        return [decode(item) for item in data["value"]]
    expected = {"bool": bool, "int": int, "str": str, "float": float}.get(str(kind))
    value = data.get("value")
    if expected is None or type(value) is not expected:
        python = data.get("python", kind)
        raise UntypedValue(f"a {python} value that JSON cannot carry faithfully")
    return value


def encode_mapping(values: dict[str, object] | Any) -> dict[str, dict[str, Any]]:
    return {name: encode(value) for name, value in values.items()}
