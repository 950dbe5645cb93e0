"""Response shapes of the evidence API (published in OpenAPI).

Request bodies and query strings are ``apps.evidence.inputs``: the serializers that validate them are
the ones the document publishes.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.evidence import rules
from apps.transparency.serializers import log_reference_field


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.DictField):
    pass


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
