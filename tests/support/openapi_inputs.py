"""Shared checks that an operation publishes the serializer it validates with (issue 13 point 1)."""

from __future__ import annotations

from typing import Any

from apps.core import api as core_api


def component_name(serializer: type) -> str:
    """COMPONENT_SPLIT_REQUEST names a request component "<serializer name without Serializer>Request"."""
    return serializer.__name__.removesuffix("Serializer") + "Request"


def request_bodies(document: dict, prefix: str) -> dict[str, dict]:
    """operationId → requestBody of every operation under ``prefix`` that has one."""
    found = {}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path.startswith(prefix) and isinstance(operation, dict) and "requestBody" in operation:
                found[operation["operationId"]] = operation["requestBody"]
    return found


def spy_on_validated(monkeypatch, *modules: Any) -> list[type]:
    """Record every serializer class the given modules pass to ``validated`` (the call still happens)."""
    used: list[type] = []

    def spy(serializer_class: type, data: Any, **kwargs: Any) -> dict[str, Any]:
        used.append(serializer_class)
        return core_api.validated(serializer_class, data, **kwargs)

    for module in modules:
        monkeypatch.setattr(module, "validated", spy)
    return used
