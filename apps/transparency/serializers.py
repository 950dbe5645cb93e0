"""Response shapes of the public transparency API (for the OpenAPI document; the services build the dicts)."""

from __future__ import annotations

from rest_framework import serializers


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
