"""OpenAPI shapes of the evidence API.

Request bodies are validated by ``apps.evidence.rules`` (the spec's exact
messages, in the spec's order); these serializers document the same
constraints so schema-driven clients and the fuzzer see what is accepted.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.openapi import DocumentedSerializer, only
from apps.evidence import files, rules
from apps.transparency.serializers import log_reference_field

ID_PATTERN = r"^[0-9a-f]{32}$"
NON_BLANK = rules.NON_BLANK


@extend_schema_field({"type": "object", "additionalProperties": True, "maxProperties": rules.MAX_METADATA_KEYS})
class MetadataField(serializers.DictField):
    pass


@extend_schema_field(
    {"type": "object", "additionalProperties": True, "maxProperties": rules.MAX_METADATA_KEYS, "nullable": True}
)
class NullableMetadataField(serializers.DictField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.DictField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": True, "nullable": True})
class NullableObjectField(serializers.DictField):
    pass


class ContributionCreateDoc(serializers.Serializer):
    title = serializers.RegexField(NON_BLANK, max_length=rules.MAX_TITLE, help_text="1..200 after trimming")
    contribution_type = serializers.ChoiceField(rules.CONTRIBUTION_TYPES)
    mode = serializers.ChoiceField(rules.MODES, required=False, allow_null=True, help_text="default komunitas")
    description = serializers.CharField(
        max_length=rules.MAX_DESCRIPTION, required=False, allow_blank=True, allow_null=True
    )
    evidence_url = serializers.RegexField(r"^$|" + rules.URL_PATTERN, max_length=rules.MAX_URL, required=False,
                                          allow_null=True, allow_blank=True)  # fmt: skip
    skill_ids = serializers.ListField(
        child=serializers.CharField(max_length=rules.MAX_SKILL_LEN, allow_blank=True),
        max_length=rules.MAX_SKILLS,
        required=False,
        allow_null=True,
        help_text="trimmed, blanks dropped, de-duplicated keeping the first; at most 10",
    )
    metadata = NullableMetadataField(required=False, allow_null=True, help_text="≤ 50 keys, ≤ 16 KiB as JSON")


class ContributionSerializer(serializers.Serializer):
    contribution_id = serializers.CharField()
    author_id = serializers.CharField()
    author_username = serializers.CharField()
    mode = serializers.ChoiceField(rules.MODES)
    contribution_type = serializers.ChoiceField(rules.CONTRIBUTION_TYPES)
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    evidence_url = serializers.CharField(allow_null=True)
    skill_ids = serializers.ListField(child=serializers.CharField())
    metadata = ObjectField()
    request_id = serializers.CharField()
    correlation_id = serializers.CharField()
    created_at_ms = serializers.IntegerField()
    updated_at_ms = serializers.IntegerField()
    transparency = log_reference_field()


class ExifSerializer(serializers.Serializer):
    captured_at_ms = serializers.IntegerField(allow_null=True)
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    camera_make = serializers.CharField(allow_null=True)
    camera_model = serializers.CharField(allow_null=True)


class ContentCredentialsSerializer(serializers.Serializer):
    """C2PA summary of an image or video (``apps.evidence.credentials``); null for other types."""

    present = serializers.BooleanField(help_text="a C2PA manifest store was found in the file")
    validation_state = serializers.ChoiceField(
        ["valid", "invalid", "trusted"],
        allow_null=True,
        help_text="null when no manifest; trusted = signer chains to C2PA_TRUST_ANCHORS; valid = good signature, "
        "signer not among the anchors; invalid = data hash or signature does not match, or unreadable",
    )
    codes = serializers.ListField(
        child=serializers.CharField(), help_text="C2PA validation failure codes, the decisive one first"
    )
    claim_generator = serializers.CharField(allow_null=True)
    issuer = serializers.CharField(allow_null=True, help_text="organisation of the signing certificate")
    signed_at = serializers.CharField(allow_null=True, help_text="time from a trusted timestamp, when present")


class MediaSerializer(serializers.Serializer):
    upload_id = serializers.CharField()
    sha256 = serializers.CharField()
    mime_type = serializers.CharField()
    size_bytes = serializers.IntegerField()
    exif = ExifSerializer(allow_null=True)
    content_credentials = ContentCredentialsSerializer(allow_null=True, required=False)


RFC3339_PATTERN = rules.RFC3339_PATTERN
_TIMESTAMP = {
    "type": "string",
    "pattern": RFC3339_PATTERN,
    "description": "RFC 3339 with seconds and offset; at most 5 minutes ahead of the server, at most 30 days old",
}


def _proof(properties: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {"timestamp": _TIMESTAMP, **properties},
        "required": ["timestamp", *required],
    }


_WITNESS = {
    "type": "object",
    "properties": {
        "witness_name": {"type": "string", "pattern": NON_BLANK, "maxLength": rules.MAX_WITNESS_NAME},
        "relationship": {"type": "string", "enum": list(rules.RELATIONSHIPS)},
    },
    "required": ["witness_name", "relationship"],
}
_NUMBER = {"type": "number"}


class EvidenceCreateDoc(DocumentedSerializer):
    """The proof's shape depends on evidence_type (one ``oneOf`` branch each, rules.py checks the same)."""

    openapi_extra = {
        "oneOf": [
            {
                "properties": {
                    "evidence_type": only("photo_with_timestamp"),
                    "proof": _proof({"media_hash": {"type": "string", "pattern": rules.HEX_PATTERN}}, ["media_hash"]),
                }
            },
            {
                "properties": {
                    "evidence_type": only("gps_verification"),
                    "proof": _proof(
                        {
                            "location": {
                                "type": "object",
                                "properties": {
                                    "lat": {**_NUMBER, "minimum": -90, "maximum": 90},
                                    "lon": {**_NUMBER, "minimum": -180, "maximum": 180},
                                    "accuracy_m": {**_NUMBER, "minimum": 0, "nullable": True},
                                },
                                "required": ["lat", "lon"],
                            }
                        },
                        ["location"],
                    ),
                }
            },
            {
                "properties": {
                    "evidence_type": only("witness_attestation"),
                    "proof": _proof(
                        {
                            "witnesses": {
                                "type": "array",
                                "items": _WITNESS,
                                "minItems": 1,
                                "maxItems": rules.MAX_WITNESSES,
                            }
                        },
                        ["witnesses"],
                    ),
                }
            },
        ]
    }
    contribution_id = serializers.RegexField(ID_PATTERN)
    evidence_type = serializers.ChoiceField(rules.EVIDENCE_TYPES)
    evidence_data = ObjectField(required=False, help_text="free-form, ≤ 16 KiB")
    proof = ObjectField(help_text="validated per evidence_type (timestamp RFC 3339, media_hash, location, witnesses)")
    upload_id = serializers.RegexField(ID_PATTERN, required=False, allow_null=True)


class EvidenceSerializer(serializers.Serializer):
    evidence_id = serializers.CharField()
    contribution_id = serializers.CharField()
    actor_id = serializers.CharField()
    actor_username = serializers.CharField()
    evidence_type = serializers.ChoiceField(rules.EVIDENCE_TYPES)
    evidence_data = ObjectField()
    proof = ObjectField()
    media = MediaSerializer(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())
    request_id = serializers.CharField()
    correlation_id = serializers.CharField()
    created_at_ms = serializers.IntegerField()
    transparency = log_reference_field()


def _size_limits() -> list[dict]:
    """One ``oneOf`` branch per size limit: the content types it applies to and their maximum size_bytes."""
    by_limit: dict[int, list[str]] = {}
    for content_type, limit in files.LIMITS.items():
        by_limit.setdefault(limit, []).append(content_type)
    return [
        {"properties": {"content_type": only(*types), "size_bytes": {"maximum": limit}}}
        for limit, types in sorted(by_limit.items())
    ]


class UploadRequestDoc(DocumentedSerializer):
    """size_bytes above the content type's limit is refused (413), so each limit is one ``oneOf`` branch."""

    openapi_extra = {"oneOf": _size_limits()}
    contribution_id = serializers.RegexField(ID_PATTERN)
    file_name = serializers.RegexField(NON_BLANK, max_length=255)
    content_type = serializers.ChoiceField(files.ALLOWED_TYPES)
    size_bytes = serializers.IntegerField(min_value=1, help_text="per-type limits; over the limit → 413")
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$")


class UploadTicketSerializer(serializers.Serializer):
    upload_id = serializers.CharField()
    upload_url = serializers.CharField()
    upload_method = serializers.ChoiceField(["PUT"])
    upload_headers = serializers.DictField(child=serializers.CharField())
    expires_at_ms = serializers.IntegerField()


class UploadVerifiedSerializer(serializers.Serializer):
    upload_id = serializers.CharField()
    sha256 = serializers.CharField()
    mime_type = serializers.CharField()
    size_bytes = serializers.IntegerField()
    exif = ExifSerializer(allow_null=True)
    content_credentials = ContentCredentialsSerializer(allow_null=True, required=False)
    status = serializers.ChoiceField(["verified"])


class VouchCreateDoc(serializers.Serializer):
    vouchee_id = serializers.RegexField(ID_PATTERN)
    skill_id = serializers.RegexField(NON_BLANK, max_length=rules.MAX_SKILL_LEN, required=False, allow_null=True)
    weight_hint = serializers.ChoiceField(rules.WEIGHT_HINTS, required=False, allow_null=True)
    message = serializers.CharField(max_length=rules.MAX_VOUCH_MESSAGE, required=False, allow_null=True,
                                    allow_blank=True)  # fmt: skip


class VouchSerializer(serializers.Serializer):
    vouch_id = serializers.CharField()
    voucher_id = serializers.CharField()
    voucher_username = serializers.CharField()
    vouchee_id = serializers.CharField()
    skill_id = serializers.CharField(allow_null=True)
    weight_hint = serializers.ChoiceField(rules.WEIGHT_HINTS, allow_null=True)
    message = serializers.CharField(allow_null=True, allow_blank=True)
    request_id = serializers.CharField()
    correlation_id = serializers.CharField()
    created_at_ms = serializers.IntegerField()
    transparency = log_reference_field()
