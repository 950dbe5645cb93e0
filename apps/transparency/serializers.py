"""Shapes of the public transparency API: the query serializers that parse and are published (one per
operation), and the response shapes (for the OpenAPI document; the services build the dicts)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_PARAM = 2**53
_DIGITS = re.compile(r"[0-9]{1,16}")


def log_number_problem(raw: Any) -> str | None:
    """What is wrong with ``raw`` as a non-negative decimal integer no larger than 2**53 (``None``: nothing)."""
    if raw is None or raw == "":
        return "this field is required"
    text = str(raw)
    if text.startswith("-") and _DIGITS.fullmatch(text[1:]):
        return "must be a non-negative integer"
    if not _DIGITS.fullmatch(text):
        return f"must be at most {MAX_PARAM}" if re.fullmatch(r"[0-9]+", text) else "must be a non-negative integer"
    return f"must be at most {MAX_PARAM}" if int(text) > MAX_PARAM else None


class _LogNumber(serializers.Field):
    """A leaf index or tree size in a query string or path: decimal digits only, in the log's own words."""

    minimum: ClassVar[int] = 0
    default_error_messages: ClassVar[dict[str, str]] = {
        "required": "this field is required",
        "null": "this field is required",
    }

    def to_internal_value(self, data: Any) -> int:
        problem = log_number_problem(data)
        if problem is not None:
            raise serializers.ValidationError(problem)
        value = int(str(data))
        if value < self.minimum:
            raise serializers.ValidationError(f"must be at least {self.minimum}")
        return value

    def to_representation(self, value: int) -> int:
        return value


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_PARAM})
class LeafIndex(_LogNumber):
    minimum = 0


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_PARAM})
class TreeSize(_LogNumber):
    minimum = 1


class EntryPath(serializers.Serializer):
    index = LeafIndex(help_text="the leaf index")


class InclusionProofQuery(serializers.Serializer):
    index = LeafIndex(help_text="the leaf index; an index at or past tree_size is 404")
    tree_size = TreeSize(help_text="a tree size of the log (a checkpoint's size); beyond the log is 404")


class ConsistencyProofQuery(serializers.Serializer):
    first = TreeSize(help_text="the older tree size; larger than second is 404")
    second = TreeSize(help_text="the newer tree size; beyond the log is 404")


class EntrySerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0)
    leaf_data = serializers.CharField(help_text="base64 of the exact leaf bytes (the entry's canonical JSON)")
    leaf_hash = serializers.CharField(help_text="base64 of SHA-256(0x00 || leaf bytes)")
    entry = serializers.DictField(help_text="the leaf bytes parsed as JSON")


class InclusionProofSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0)
    tree_size = serializers.IntegerField(min_value=1)
    leaf_hash = serializers.CharField(help_text="base64")
    path = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 2.1.3 audit path, base64")


class ConsistencyProofSerializer(serializers.Serializer):
    first = serializers.IntegerField(min_value=1)
    second = serializers.IntegerField(min_value=1)
    path = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 2.1.4 proof, base64")


class LogReferenceSerializer(serializers.Serializer):
    """Where a record is in the transparency log (``transparency`` on contributions, evidence, vouches, decisions)."""

    log_index = serializers.IntegerField(min_value=0, help_text="GET /v1/transparency/entries/{log_index}")
    leaf_hash = serializers.CharField(help_text="base64 of SHA-256(0x00 || leaf data), RFC 9162")


def log_reference_field() -> LogReferenceSerializer:
    """The documented ``transparency`` field; null only for records written before the log existed."""
    return LogReferenceSerializer(allow_null=True)
