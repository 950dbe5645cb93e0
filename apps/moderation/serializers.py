"""The moderation API's request and response shapes.

Each request serializer is the ONE validator of its operation and the shape drf-spectacular
publishes: the API's views, the admin site (through the services) and the worker all parse
with it (``decision_input``, ``report_input``, ``appeal_statement``). Rules across fields
are in ``rules.py`` and are called from ``validate``; rules against stored state are the
services'. The messages are the API's long-standing ones (``fields.py``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api import validated
from apps.core.openapi import DocumentedSerializer, only
from apps.moderation import rules
from apps.moderation.domain import (
    ACTIONS,
    CONTENT_TYPES,
    MAX_HOLD_MINUTES,
    MAX_NOTE,
    MAX_REASON_CODE_BYTES,
    MAX_REASONING,
    MAX_STATEMENT,
    MAX_VIOLATIONS,
    QUEUE_KINDS,
    REPORT_REASONS,
    STATUSES,
    DecisionInput,
    ReportInput,
)
from apps.moderation.fields import Choice, Confidence, ContentId, Minutes, ObjectList, StrictBoolean, Text
from apps.transparency.serializers import log_reference_field

VIOLATION_FIELDS = ("category", "severity", "snippet", "reason")


class ViolationSerializer(serializers.Serializer):
    # Optional texts: "" counts as absent (None), so blank is documented as accepted.
    category = Text(max_length=64)
    severity = Text(max_length=32, required=False)
    snippet = Text(max_length=500, required=False)
    reason = Text(max_length=500, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Every key, absent ones as None: the violation is hashed into the ledger in this shape."""
        return {name: attrs.get(name) for name in VIOLATION_FIELDS}


def _status_branches() -> list[dict]:
    """rules.decision_conflict as ``oneOf``: which actions go with a status, and that only a hold has a duration."""
    branches = []
    for status, actions in rules.ALLOWED_ACTIONS.items():
        hold = actions == ("hold_for_review",)
        properties: dict = {"moderation_status": only(status), "moderation_action": only(*actions)}
        if status != "rejected":  # only a removal opens an appeal window
            properties["appeal_window_minutes"] = {"nullable": True, "not": {}}
        if hold:
            properties["hold_duration_minutes"] = {"type": "integer", "nullable": False}
        else:
            properties["hold_duration_minutes"] = {"nullable": True, "not": {}}  # absent or null only
            properties["auto_release_if_no_action"] = {**only(False), "nullable": True}
        branches.append({"properties": properties, **({"required": ["hold_duration_minutes"]} if hold else {})})
    return branches


class DecisionRequestSerializer(DocumentedSerializer):
    # ``POST /v1/moderations`` and every other decision (admin site, worker, community hold, demo).
    # No docstring: drf-spectacular would publish it. The fields are declared in the order they were
    # always checked, so with several problems the answer's message names the same (first) one as before.
    openapi_extra = {"oneOf": _status_branches()}
    content_id = ContentId()
    content_type = Choice(CONTENT_TYPES)
    moderation_status = Choice(STATUSES)
    moderation_action = Choice(
        ACTIONS, help_text="under_review ⇔ hold_for_review; rejected ⇔ block; published → publish_*"
    )
    reason_code = Text(
        max_length=MAX_REASON_CODE_BYTES, max_bytes=MAX_REASON_CODE_BYTES, help_text="at most 512 bytes (UTF-8)"
    )
    # null means the default, as absent does: confidence 1, no auto-release, no violations.
    confidence = Confidence()
    author_id = ContentId(required=False, allow_null=True)
    auto_release_if_no_action = StrictBoolean(required=False, allow_null=True)
    author_username = Text(max_length=64, required=False)
    hold_duration_minutes = Minutes(min_value=1, max_value=MAX_HOLD_MINUTES)
    appeal_window_minutes = Minutes(min_value=1, max_value=MAX_HOLD_MINUTES)
    reasoning = Text(max_length=MAX_REASONING, required=False)
    violations = ObjectList(
        child=ViolationSerializer(),
        max_length=MAX_VIOLATIONS,
        item_problem="each violation must be an object",
        required=False,
        allow_null=True,
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_lift(exc.detail, "violations")) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {
            **attrs,
            "confidence": 1.0 if attrs.get("confidence") is None else attrs["confidence"],
            "auto_release_if_no_action": bool(attrs.get("auto_release_if_no_action")),
            "violations": attrs.get("violations") or [],
        }
        conflict = rules.decision_conflict(DecisionInput(**attrs))
        if conflict is not None:
            name, problem = conflict
            raise serializers.ValidationError({name: [problem]})
        return attrs


def _lift(detail: Any, name: str) -> Any:
    """A nested object's problems under their own names (``category: ...``, not ``violations: category: ...``):
    the message this API has given since its first version, which clients may match on."""
    if isinstance(detail, dict) and isinstance(detail.get(name), dict):
        detail = dict(detail)
        for key, problems in detail.pop(name).items():
            detail.setdefault(key, problems)
    return detail


def decision_input(data: Any) -> DecisionInput:
    """Parse a decision body (API, admin form, worker, community hold); ``ValidationFailed`` on any problem."""
    return DecisionInput(**validated(DecisionRequestSerializer, data))


class AppealSerializer(serializers.Serializer):
    appealed_at_ms = serializers.IntegerField()
    statement = serializers.CharField()
    status = serializers.ChoiceField(choices=["open", "upheld", "overturned"])


class ContentStateSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.ChoiceField(choices=CONTENT_TYPES)
    author_id = serializers.CharField()
    author_username = serializers.CharField(allow_null=True)
    moderation_status = serializers.ChoiceField(choices=STATUSES)
    moderation_action = serializers.ChoiceField(choices=ACTIONS)
    reason_code = serializers.CharField()
    confidence = serializers.FloatField()
    decided_at_ms = serializers.IntegerField()
    decided_by = serializers.CharField()
    hold_expires_at_ms = serializers.IntegerField(allow_null=True)
    auto_release_if_no_action = serializers.BooleanField()
    appeal_window_until_ms = serializers.IntegerField(allow_null=True)
    reasoning = serializers.CharField(allow_null=True)
    violations = ViolationSerializer(many=True)
    last_decision_id = serializers.CharField()
    report_count = serializers.IntegerField()
    appeal = AppealSerializer(allow_null=True)
    request_id = serializers.CharField()
    correlation_id = serializers.CharField()
    event_hash = serializers.CharField()


class ActorSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    username = serializers.CharField()
    role = serializers.CharField()
    request_id = serializers.CharField()
    correlation_id = serializers.CharField()


class DecisionSerializer(serializers.Serializer):
    decision_id = serializers.CharField()
    content_id = serializers.CharField()
    content_type = serializers.ChoiceField(choices=CONTENT_TYPES)
    moderation_status = serializers.ChoiceField(choices=STATUSES)
    moderation_action = serializers.ChoiceField(choices=ACTIONS)
    reason_code = serializers.CharField()
    confidence = serializers.FloatField()
    decided_at_ms = serializers.IntegerField()
    chain_seq = serializers.IntegerField()
    actor = ActorSerializer()
    hold_expires_at_ms = serializers.IntegerField(allow_null=True)
    auto_release_if_no_action = serializers.BooleanField()
    appeal_window_until_ms = serializers.IntegerField(allow_null=True)
    reasoning = serializers.CharField(allow_null=True)
    violations = ViolationSerializer(many=True)
    prev_hash = serializers.CharField(allow_null=True)
    event_hash = serializers.CharField()
    transparency = log_reference_field()


class ScheduleSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    release_at_ms = serializers.IntegerField()


class DecisionResultSerializer(serializers.Serializer):
    content = ContentStateSerializer()
    decision = DecisionSerializer()
    schedule_auto_release = ScheduleSerializer(allow_null=True)


class ModeratorViewSerializer(ContentStateSerializer):
    decisions = DecisionSerializer(many=True)


class AuthorViewSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.CharField()
    moderation_status = serializers.ChoiceField(choices=STATUSES)
    moderation_action = serializers.ChoiceField(choices=ACTIONS)
    reason_code = serializers.CharField()
    decided_at_ms = serializers.IntegerField()
    hold_expires_at_ms = serializers.IntegerField(allow_null=True)
    appeal_window_until_ms = serializers.IntegerField(allow_null=True)
    warning_label = serializers.CharField(allow_null=True)
    appeal = AppealSerializer(allow_null=True)


class PublicViewSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.CharField()
    moderation_status = serializers.ChoiceField(choices=STATUSES)
    is_visible = serializers.BooleanField()
    placeholder = serializers.CharField(allow_null=True)
    warning_label = serializers.CharField(allow_null=True)


class ProjectedViewSerializer(serializers.Serializer):
    """Exactly one of the three keys is present, by the caller's role."""

    Moderator = ModeratorViewSerializer(required=False)
    Author = AuthorViewSerializer(required=False)
    Public = PublicViewSerializer(required=False)


class QueueQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=50, help_text="clamped to 1..200")
    kind = serializers.ChoiceField(choices=QUEUE_KINDS, required=False)
    content_type = serializers.ChoiceField(choices=CONTENT_TYPES, required=False)


class QueueItemSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.CharField()
    kind = serializers.ChoiceField(choices=QUEUE_KINDS)
    kinds = serializers.ListField(child=serializers.CharField())
    queued_at_ms = serializers.IntegerField()
    moderation_status = serializers.CharField(allow_null=True)
    moderation_action = serializers.CharField(allow_null=True)
    author_id = serializers.CharField(allow_null=True)
    reason_code = serializers.CharField(allow_null=True)
    hold_expires_at_ms = serializers.IntegerField(allow_null=True)
    report_count = serializers.IntegerField()
    report_reasons = serializers.ListField(child=serializers.CharField())
    appeal = AppealSerializer(allow_null=True)


class QueueSerializer(serializers.Serializer):
    items = QueueItemSerializer(many=True)


class ReportRequestSerializer(serializers.Serializer):
    content_type = Choice(CONTENT_TYPES)
    content_id = ContentId()
    reason = Choice(REPORT_REASONS)
    note = Text(max_length=MAX_NOTE, required=False)


def report_input(data: Any) -> ReportInput:
    return ReportInput(**validated(ReportRequestSerializer, data))


class ReportSerializer(serializers.Serializer):
    report_id = serializers.CharField()
    content_type = serializers.CharField()
    content_id = serializers.CharField()
    reporter_id = serializers.CharField()
    reason = serializers.ChoiceField(choices=REPORT_REASONS)
    note = serializers.CharField(allow_null=True)
    created_at_ms = serializers.IntegerField()
    resolved_by_decision_id = serializers.CharField(allow_null=True)


class ReportListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "all"], required=False, default="open")
    limit = serializers.IntegerField(required=False, default=50, help_text="clamped to 1..200")


class ReportListSerializer(serializers.Serializer):
    reports = ReportSerializer(many=True)


class AppealRequestSerializer(serializers.Serializer):
    statement = Text(max_length=MAX_STATEMENT)


def appeal_statement(data: Any) -> str:
    return validated(AppealRequestSerializer, data)["statement"]


class AppealResultSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.CharField()
    moderation_status = serializers.CharField()
    appeal = AppealSerializer()
