"""OpenAPI post-processing shared by every app.

Django's form and serializer ``CharField`` refuses NUL characters (``\\x00``) in
any input. Rather than repeat that in every serializer, this hook states it
once in the document: every request-side string (request bodies and query
parameters) without a pattern, format or enum gets ``pattern: ^[^\\x00]*$``,
so the document describes what the API really accepts.
"""

from __future__ import annotations

from typing import Any

NO_NUL_PATTERN = "^[^\\x00]*$"


def _constrain(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not ({"pattern", "format", "enum"} & set(schema)):
        schema["pattern"] = NO_NUL_PATTERN
    for key in ("properties",):
        for child in (schema.get(key) or {}).values():
            _constrain(child)
    for key in ("items", "additionalProperties"):
        _constrain(schema.get(key))
    for key in ("allOf", "anyOf", "oneOf"):
        for child in schema.get(key) or []:
            _constrain(child)


def refuse_nul_in_inputs(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK (runs after the default enum hook)."""
    for name, schema in (result.get("components", {}).get("schemas") or {}).items():
        if name.endswith("Request"):  # COMPONENT_SPLIT_REQUEST names request-side components *Request
            _constrain(schema)
    for operations in (result.get("paths") or {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters") or []:
                if parameter.get("in") == "query":
                    _constrain(parameter.get("schema"))
    return result
