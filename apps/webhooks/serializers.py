"""Request/response shapes of the admin outbox API (validation and the OpenAPI document)."""

from __future__ import annotations

from rest_framework import serializers

from apps.webhooks.repository import STATUSES
from apps.webhooks.services import REPLAYABLE

MAX_LIMIT = 500


class ListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=list(STATUSES), required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=100)


class ReplayByStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=list(REPLAYABLE), default="dead_letter")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=100)


class OutboxEventSummarySerializer(serializers.Serializer):
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=list(STATUSES))
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    next_attempt_at_ms = serializers.IntegerField()
    lease_owner = serializers.CharField(allow_null=True)
    lease_expires_at_ms = serializers.IntegerField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    actor_id = serializers.CharField()
    actor_username = serializers.CharField(allow_blank=True)
    request_id = serializers.CharField()
    correlation_id = serializers.CharField()
    created_at_ms = serializers.IntegerField()
    updated_at_ms = serializers.IntegerField()
    delivered_at_ms = serializers.IntegerField(allow_null=True)


class OutboxEventSerializer(OutboxEventSummarySerializer):
    payload = serializers.JSONField(allow_null=True, help_text="The body as sent; null if the stored body is broken.")


class OutboxListSerializer(serializers.Serializer):
    events = OutboxEventSummarySerializer(many=True)


class DeliveryLogSerializer(serializers.Serializer):
    log_id = serializers.CharField()
    event_id = serializers.CharField()
    attempt = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=["success", "retryable_failure", "terminal_failure"])
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    request_id = serializers.CharField()
    correlation_id = serializers.CharField()
    request_body_sha256 = serializers.CharField()
    response_body_sha256 = serializers.CharField(allow_null=True)
    response_excerpt = serializers.CharField(allow_null=True, allow_blank=True)
    error_message = serializers.CharField(allow_null=True)
    created_at_ms = serializers.IntegerField()


class DeliveryLogListSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    logs = DeliveryLogSerializer(many=True)


class ReplayResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    replayed = serializers.IntegerField()
    event_ids = serializers.ListField(child=serializers.CharField())
