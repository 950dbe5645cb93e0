"""OpenAPI shapes of the moderation API. Validation itself is ``rules.py`` (shared with the admin site)."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.openapi import NON_BLANK_TEXT, DocumentedSerializer, only
from apps.moderation import rules
from apps.transparency.serializers import log_reference_field

CONTENT_ID = r"^[A-Za-z0-9_-]{1,128}$"


class ViolationSerializer(serializers.Serializer):
    # Optional texts: "" counts as absent (rules._text), so blank is documented as accepted.
    category = serializers.RegexField(NON_BLANK_TEXT, max_length=64)
    severity = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True)
    snippet = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)
    reason = serializers.CharField(max_length=500, required=False, allow_null=True, allow_blank=True)


def _status_branches() -> list[dict]:
    """rules._cross_field as ``oneOf``: which actions go with a status, and that only a hold has a duration."""
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
    openapi_extra = {"oneOf": _status_branches()}
    content_id = serializers.RegexField(CONTENT_ID)
    content_type = serializers.ChoiceField(choices=rules.CONTENT_TYPES)
    moderation_status = serializers.ChoiceField(choices=rules.STATUSES)
    moderation_action = serializers.ChoiceField(
        choices=rules.ACTIONS, help_text="under_review ⇔ hold_for_review; rejected ⇔ block; published → publish_*"
    )
    reason_code = serializers.RegexField(NON_BLANK_TEXT, max_length=512, help_text="at most 512 bytes (UTF-8)")
    # null means the default, as absent does (rules.decision_input): confidence 1, no auto-release.
    confidence = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    author_id = serializers.RegexField(CONTENT_ID, required=False, allow_null=True)
    author_username = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)
    hold_duration_minutes = serializers.IntegerField(
        min_value=1, max_value=rules.MAX_HOLD_MINUTES, required=False, allow_null=True
    )
    auto_release_if_no_action = serializers.BooleanField(required=False, allow_null=True)
    appeal_window_minutes = serializers.IntegerField(
        min_value=1, max_value=rules.MAX_HOLD_MINUTES, required=False, allow_null=True
    )
    reasoning = serializers.CharField(max_length=rules.MAX_REASONING, required=False, allow_null=True, allow_blank=True)
    violations = ViolationSerializer(many=True, required=False, allow_null=True, max_length=rules.MAX_VIOLATIONS)


class AppealSerializer(serializers.Serializer):
    appealed_at_ms = serializers.IntegerField()
    statement = serializers.CharField()
    status = serializers.ChoiceField(choices=["open", "upheld", "overturned"])


class ContentStateSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.ChoiceField(choices=rules.CONTENT_TYPES)
    author_id = serializers.CharField()
    author_username = serializers.CharField(allow_null=True)
    moderation_status = serializers.ChoiceField(choices=rules.STATUSES)
    moderation_action = serializers.ChoiceField(choices=rules.ACTIONS)
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
    content_type = serializers.ChoiceField(choices=rules.CONTENT_TYPES)
    moderation_status = serializers.ChoiceField(choices=rules.STATUSES)
    moderation_action = serializers.ChoiceField(choices=rules.ACTIONS)
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
    moderation_status = serializers.ChoiceField(choices=rules.STATUSES)
    moderation_action = serializers.ChoiceField(choices=rules.ACTIONS)
    reason_code = serializers.CharField()
    decided_at_ms = serializers.IntegerField()
    hold_expires_at_ms = serializers.IntegerField(allow_null=True)
    appeal_window_until_ms = serializers.IntegerField(allow_null=True)
    warning_label = serializers.CharField(allow_null=True)
    appeal = AppealSerializer(allow_null=True)


class PublicViewSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.CharField()
    moderation_status = serializers.ChoiceField(choices=rules.STATUSES)
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
    kind = serializers.ChoiceField(choices=["held", "appeal", "reported"], required=False)
    content_type = serializers.ChoiceField(choices=rules.CONTENT_TYPES, required=False)


class QueueItemSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.CharField()
    kind = serializers.ChoiceField(choices=["held", "appeal", "reported"])
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
    content_type = serializers.ChoiceField(choices=rules.CONTENT_TYPES)
    content_id = serializers.RegexField(CONTENT_ID)
    reason = serializers.ChoiceField(choices=rules.REPORT_REASONS)
    note = serializers.CharField(max_length=rules.MAX_NOTE, required=False, allow_null=True, allow_blank=True)


class ReportSerializer(serializers.Serializer):
    report_id = serializers.CharField()
    content_type = serializers.CharField()
    content_id = serializers.CharField()
    reporter_id = serializers.CharField()
    reason = serializers.ChoiceField(choices=rules.REPORT_REASONS)
    note = serializers.CharField(allow_null=True)
    created_at_ms = serializers.IntegerField()
    resolved_by_decision_id = serializers.CharField(allow_null=True)


class ReportListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "all"], required=False, default="open")
    limit = serializers.IntegerField(required=False, default=50, help_text="clamped to 1..200")


class ReportListSerializer(serializers.Serializer):
    reports = ReportSerializer(many=True)


class AppealRequestSerializer(serializers.Serializer):
    statement = serializers.RegexField(NON_BLANK_TEXT, max_length=rules.MAX_STATEMENT)


class AppealResultSerializer(serializers.Serializer):
    content_id = serializers.CharField()
    content_type = serializers.CharField()
    moderation_status = serializers.CharField()
    appeal = AppealSerializer()
