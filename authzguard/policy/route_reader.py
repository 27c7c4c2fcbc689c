"""The ``routes:`` section of a policy file: views bound by URL name, and their targets."""

from __future__ import annotations

import re
from typing import cast

from authzguard.policy.model import RouteBinding, TargetSpec
from authzguard.policy.reader import (
    ATTRIBUTE_RE,
    DOTTED_RE,
    FIELD_RE,
    MODEL_RE,
    NAME_RE,
    TARGET_SOURCES,
    Reader,
    position,
)
from authzguard.policy.source import Node


class RouteReader(Reader):
    """Shape checks of ``routes:`` (names are checked against the URLconf at start-up)."""

    def routes(self, node: Node) -> dict[str, RouteBinding]:
        """The ``routes:`` section: one binding per view name."""
        found: dict[str, RouteBinding] = {}
        routes = self.mapping(node, "routes")
        if routes is None:
            return found
        for key, body in routes.items:
            view_name = self.string(key, "route name")
            if view_name is None:
                continue
            if not view_name.strip():
                self.report(key, "AZ105", "route name must not be empty")
                continue
            spec = self.mapping(body, f"route {view_name!r}")
            if spec is None:
                continue
            self.keys(
                spec,
                f"route {view_name!r}",
                ("action", "resource", "target"),
                ("action", "resource"),
            )
            action = (
                self.string(spec["action"], "action", ATTRIBUTE_RE, "action name")
                if spec.get("action") is not None
                else None
            )
            resource = (
                self.string(spec["resource"], "resource", NAME_RE, "resource kind")
                if spec.get("resource") is not None
                else None
            )
            target_node = spec.get("target")
            target = self._target(target_node, view_name) if target_node is not None else None
            if action and resource:
                found[view_name] = RouteBinding(view_name, action, resource, target, position(key))
        return found

    def _target(self, node: Node, view_name: str) -> TargetSpec | None:
        spec = self.mapping(node, f"route {view_name!r} target")
        if spec is None:
            return None
        self.keys(
            spec,
            "a target",
            ("param", "source", "model", "field", "resolver", "pass_as", "max_length"),
        )
        values: dict[str, object] = {}
        checks: dict[str, tuple[re.Pattern[str] | None, str]] = {
            "param": (re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}"), "parameter name"),
            "model": (MODEL_RE, "model label (app_label.ModelName)"),
            "field": (FIELD_RE, "field name"),
            "resolver": (DOTTED_RE, "dotted path"),
            "pass_as": (re.compile(r"[A-Za-z_][A-Za-z0-9_]*"), "keyword argument name"),
        }
        for name, (pattern, what) in checks.items():
            if (n := spec.get(name)) is not None:
                values[name] = self.string(n, f"target {name}", pattern, what)
        if (n := spec.get("source")) is not None:
            source = self.string(n, "target source")
            if source is not None and source not in TARGET_SOURCES:
                self.report(
                    n,
                    "AZ105",
                    f"target source must be one of {', '.join(TARGET_SOURCES)}, not {source!r}",
                )
            else:
                values["source"] = source
        if (n := spec.get("max_length")) is not None:
            values["max_length"] = self.integer(n, "target max_length")
        if values.get("resolver") is None and values.get("param") is None:
            self.report(
                spec, "AZ104", "a target needs either 'param' (with model/field) or 'resolver'"
            )
            return None
        if (
            values.get("resolver") is not None
            and values.get("param") is not None
            and spec.get("model") is not None
        ):
            self.report(spec, "AZ105", "a target with a custom 'resolver' takes no 'model'")
        return TargetSpec(
            param=cast("str | None", values.get("param")),
            source=cast("str | None", values.get("source")),
            model=cast("str | None", values.get("model")),
            field=cast(str, values.get("field") or "pk"),
            resolver=cast("str | None", values.get("resolver")),
            pass_as=cast("str | None", values.get("pass_as")),
            max_length=cast("int | None", values.get("max_length")),
        )
