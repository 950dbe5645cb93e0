"""/v1/admin/webhooks/ (included by gotong/urls.py)."""

from django.urls import path

from apps.webhooks import api

urlpatterns = [
    path("outbox", api.OutboxListView.as_view(), name="webhooks-outbox-list"),
    path("outbox/replay", api.OutboxReplayByStatusView.as_view(), name="webhooks-outbox-replay-by-status"),
    path("outbox/<str:event_id>", api.OutboxEventView.as_view(), name="webhooks-outbox-get"),
    path("outbox/<str:event_id>/logs", api.OutboxLogsView.as_view(), name="webhooks-outbox-logs"),
    path("outbox/<str:event_id>/replay", api.OutboxReplayView.as_view(), name="webhooks-outbox-replay"),
]
