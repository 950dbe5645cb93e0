"""Request bodies and query strings of the evidence API: each operation's one validator.

The services parse their input with these serializers (the pages and the demo seed call the same
services), and ``apps.evidence.api`` publishes the same classes in OpenAPI, so the document and the
server cannot disagree about a field. Fields are declared in the order 04-evidence.md checks them:
the first failed field is the message (``validation failed: title is required``), every failed field
is in ``details.fields``. Rules across fields run in ``validate`` (``apps.evidence.rules``); rules that
need the database stay in the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from apps.core.errors import ValidationFailed
from apps.core.openapi import DocumentedSerializer, only
from apps.evidence import fields as f
from apps.evidence import files, rules

NON_BLANK = rules.NON_BLANK


def problem(errors: Mapping[str, Any]) -> ValidationFailed:
    """Serializer errors → ``validation failed: <first message>`` (the spec's words carry the field name)."""
    found = {str(field): [str(m) for m in (messages if isinstance(messages, list) else [messages])]
             for field, messages in errors.items()}  # fmt: skip
    return ValidationFailed(f"validation failed: {next(iter(found.values()))[0]}", details={"fields": found})


def bound(serializer_class: type[serializers.Serializer], data: Any, **context: Any) -> serializers.Serializer:
    """The serializer over a request body (a JSON object, else 400 ``must be a JSON object``), validated."""
    if not isinstance(data, dict):
        raise ValidationFailed.for_fields({"body": ["must be a JSON object"]})
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid()
    return serializer


def parsed(serializer: serializers.Serializer) -> dict[str, Any]:
    if serializer.errors:
        raise problem(serializer.errors)
    return dict(serializer.validated_data)


def body(serializer_class: type[serializers.Serializer], data: Any, **context: Any) -> dict[str, Any]:
    return parsed(bound(serializer_class, data, **context))


def bound_query(serializer_class: type[serializers.Serializer], params: Mapping[str, Any]) -> serializers.Serializer:
    """Query parameters (or the pages' dicts, where ``None`` means absent) through their serializer."""
    values = params.dict() if hasattr(params, "dict") else dict(params)
    return bound(serializer_class, {k: v for k, v in values.items() if v is not None})


def query(serializer_class: type[serializers.Serializer], params: Mapping[str, Any]) -> dict[str, Any]:
    return parsed(bound_query(serializer_class, params))


# -- contributions ---------------------------------------------------------------------


class ContributionCreateSerializer(serializers.Serializer):
    title = f.PatternText(NON_BLANK, max_length=rules.MAX_TITLE, trim=True, refuse_blank=True,
                          help_text="1..200 after trimming")  # fmt: skip
    description = f.Text(max_length=rules.MAX_DESCRIPTION, required=False, allow_blank=True, allow_null=True,
                         absent="")  # fmt: skip
    skill_ids = f.SkillList(
        child=serializers.CharField(max_length=rules.MAX_SKILL_LEN, allow_blank=True),
        max_length=rules.MAX_SKILLS,
        required=False,
        allow_null=True,
        absent=[],
        help_text="trimmed, blanks dropped, de-duplicated keeping the first; at most 10",
    )
    metadata = f.MetadataObject(required=False, allow_null=True, absent={}, help_text="≤ 50 keys, ≤ 16 KiB as JSON")
    mode = f.Choice(rules.MODES, required=False, allow_null=True, absent="komunitas", help_text="default komunitas")
    contribution_type = f.Choice(rules.CONTRIBUTION_TYPES)
    evidence_url = f.HttpUrl(r"^$|" + rules.URL_PATTERN, max_length=rules.MAX_URL, required=False, allow_null=True,
                             allow_blank=True, messages={"pattern": "{name} must be an http(s) URL"})  # fmt: skip


class ContributionListQuery(serializers.Serializer):
    limit = f.ClampedLimit()
    before = f.EntityId(
        required=False,
        messages=dict.fromkeys(("type", "nul", "pattern"), "{name} must be a contribution_id"),
        help_text="contribution_id of the last item seen: the next page starts after it",
    )
    author_id = f.Text(required=False, allow_blank=True, help_text="default: the caller")


class LimitQuery(serializers.Serializer):
    limit = f.ClampedLimit()


# -- evidence ---------------------------------------------------------------------------

_TIMESTAMP = {
    "type": "string",
    "pattern": rules.RFC3339_PATTERN,
    "description": "RFC 3339 with seconds and offset; at most 5 minutes ahead of the server, at most 30 days old",
}
_NUMBER = {"type": "number"}
_WITNESS = {
    "type": "object",
    "properties": {
        "witness_name": {"type": "string", "pattern": NON_BLANK, "maxLength": rules.MAX_WITNESS_NAME},
        "relationship": {"type": "string", "enum": list(rules.RELATIONSHIPS)},
    },
    "required": ["witness_name", "relationship"],
}
_LOCATION = {
    "type": "object",
    "properties": {
        "lat": {**_NUMBER, "minimum": -90, "maximum": 90},
        "lon": {**_NUMBER, "minimum": -180, "maximum": 180},
        "accuracy_m": {**_NUMBER, "minimum": 0, "nullable": True},
    },
    "required": ["lat", "lon"],
}
_WITNESSES = {"type": "array", "items": _WITNESS, "minItems": 1, "maxItems": rules.MAX_WITNESSES}


def _branch(evidence_type: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The ``oneOf`` branch of one evidence type: its proof's shape (what ``rules.proof_rules`` checks)."""
    proof = {"type": "object", "properties": {"timestamp": _TIMESTAMP, **properties},
             "required": ["timestamp", *properties]}  # fmt: skip
    return {"properties": {"evidence_type": only(evidence_type), "proof": proof}}


class EvidenceCreateSerializer(DocumentedSerializer):
    """The proof's shape depends on evidence_type (one ``oneOf`` branch each, rules.py checks the same)."""

    openapi_extra = {
        "oneOf": [
            _branch("photo_with_timestamp", {"media_hash": {"type": "string", "pattern": rules.HEX_PATTERN}}),
            _branch("gps_verification", {"location": _LOCATION}),
            _branch("witness_attestation", {"witnesses": _WITNESSES}),
        ]
    }
    # contribution_id and evidence_type first: the service looks the contribution up (404/403) before
    # it answers any other problem of the body (``TARGET``).
    contribution_id = f.EntityId()
    evidence_type = f.Choice(rules.EVIDENCE_TYPES)
    evidence_data = f.FreeObject(required=False, absent={}, help_text="free-form, ≤ 16 KiB")
    proof = f.FreeObject(
        messages={"required": "{name} must be an object"},
        help_text="validated per evidence_type (timestamp RFC 3339, media_hash, location, witnesses)",
    )
    upload_id = f.EntityId(required=False, allow_null=True)

    TARGET = ("contribution_id", "evidence_type")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            stamp = rules.proof_rules(attrs["evidence_type"], attrs["proof"], now=self.context.get("now"))
        except ValidationFailed as exc:
            raise serializers.ValidationError((exc.details or {})["fields"]) from exc
        return attrs | {"timestamp_ms": stamp}


# -- evidence uploads ----------------------------------------------------------------------


def _size_limits() -> list[dict[str, Any]]:
    """One ``oneOf`` branch per size limit: the content types it applies to and their maximum size_bytes."""
    by_limit: dict[int, list[str]] = {}
    for content_type, limit in files.LIMITS.items():
        by_limit.setdefault(limit, []).append(content_type)
    return [
        {"properties": {"content_type": only(*types), "size_bytes": {"maximum": limit}}}
        for limit, types in sorted(by_limit.items())
    ]


class UploadCreateSerializer(DocumentedSerializer):
    """size_bytes above the content type's limit is refused (413), so each limit is one ``oneOf`` branch."""

    openapi_extra = {"oneOf": _size_limits()}
    contribution_id = f.EntityId()
    file_name = f.FileName(NON_BLANK, max_length=255)
    content_type = f.Choice(files.ALLOWED_TYPES, messages=dict.fromkeys(("type", "nul"), f.MESSAGES["choice"]))
    size_bytes = f.PositiveInteger(
        min_value=1,
        messages={"type": "{name} must be a positive integer (empty files are not accepted)"},
        help_text="per-type limits; over the limit → 413",
    )
    sha256 = f.Hex(r"^[0-9a-fA-F]{64}$", messages={"pattern": "{name} must be 64 hex characters"})

    def validate_sha256(self, value: str) -> str:
        return value.lower()


# -- vouches ----------------------------------------------------------------------------------


class VouchCreateSerializer(serializers.Serializer):
    vouchee_id = f.EntityId()
    skill_id = f.PatternText(NON_BLANK, max_length=rules.MAX_SKILL_LEN, required=False, allow_null=True, trim=True,
                             refuse_blank=True, messages={"blank": "{name} must not be blank"})  # fmt: skip
    weight_hint = f.Choice(rules.WEIGHT_HINTS, required=False, allow_null=True)
    message = f.Text(max_length=rules.MAX_VOUCH_MESSAGE, required=False, allow_null=True, allow_blank=True)


class VouchListQuery(serializers.Serializer):
    """Either id, or neither (the caller's vouches as voucher). An id that names no member is 404, whatever it
    looks like (checked by the service before the "only one" rule)."""

    vouchee_id = f.AnyText(required=False, allow_blank=True)
    voucher_id = f.AnyText(required=False, allow_blank=True)
    limit = f.ClampedLimit()
