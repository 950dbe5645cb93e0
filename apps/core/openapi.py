"""OpenAPI post-processing shared by every app.

Django's form and serializer ``CharField`` refuses NUL characters (``\\x00``) in
any input. Rather than repeat that in every serializer, this hook states it
once in the document: every request-side string (request bodies and query
parameters) without a pattern, format or enum gets ``pattern: ^[^\\x00]*$``,
so the document describes what the API really accepts.

``DocumentedSerializer`` adds what a serializer's fields cannot say about a request body:
rules across fields (``anyOf``/``oneOf``), ``uniqueItems``, a closed set of keys. Its
``openapi_extra`` is merged into the generated component, so the rule is written next to
the fields it constrains instead of in a hook that matches component names.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

NO_NUL_PATTERN = "^[^\\x00]*$"
# Text that ``str.strip()`` does not reduce to nothing, without NUL: Python strips the ECMA ``\\s`` set plus
# the information separators U+001C..U+001F and U+0085, so the document names those too.
NON_BLANK_TEXT = r"^[^\x00]*[^\x00\s\x1c-\x1f\x85][^\x00]*$"


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


class DocumentedSerializer(serializers.Serializer):
    """A request shape whose OpenAPI component gets ``openapi_extra`` merged in (dicts merged deeply)."""

    openapi_extra: ClassVar[dict[str, Any]] = {}


def merge_schema(schema: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(schema.get(key), dict):
            merge_schema(schema[key], value)
        else:
            schema[key] = value
    return schema


def only(*values: Any) -> dict[str, Any]:
    """A property limited to ``values`` inside an ``openapi_extra`` branch.

    Wrapped in ``anyOf`` because drf-spectacular's enum hook turns every property-level
    ``enum`` into a shared component named after the property, which would give each
    ``oneOf`` branch the same (full) list and erase the rule.
    """
    return {"anyOf": [{"enum": list(values)}]}


class DocumentedSerializerExtension(OpenApiSerializerExtension):
    target_class = DocumentedSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_basic_serializer(self.target, direction)
        cls = self.target if isinstance(self.target, type) else type(self.target)
        if not cls.__dict__.get("__doc__"):  # not the inherited docstring of this base class
            schema.pop("description", None)
        # A copy: later hooks edit the document in place and must not edit the class's rule.
        return merge_schema(schema, copy.deepcopy(self.target.openapi_extra))


def require_bodies(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: a body whose schema demands a key cannot be left out.

    drf-spectacular marks a request body required only when its serializer has a required field;
    a body that needs "one of these keys" (``minProperties``) would otherwise be documented as
    optional, while the server answers a missing body with 400.
    """
    schemas = result.get("components", {}).get("schemas") or {}
    for operations in (result.get("paths") or {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            for media in ((body or {}).get("content") or {}).values():
                schema = media.get("schema") or {}
                ref = schema.get("$ref", "")
                schema = schemas.get(ref.rsplit("/", 1)[-1], schema) if ref else schema
                branches = schema.get("anyOf") or schema.get("oneOf") or []
                every_branch_demands = bool(branches) and all(b.get("required") for b in branches)
                if schema.get("required") or schema.get("minProperties") or every_branch_demands:
                    body["required"] = True
    return result


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
