"""/v1/ routes of the moderation API (included at ``v1/``)."""

from django.urls import path

from apps.moderation import api

urlpatterns = [
    path("moderations", api.DecisionCreate.as_view(), name="moderations_create"),
    path("moderations/review-queue", api.ReviewQueue.as_view(), name="moderations_review_queue"),
    path("moderations/<str:content_id>", api.ModerationDetail.as_view(), name="moderations_get"),
    path("moderations/<str:content_id>/appeals", api.AppealCreate.as_view(), name="moderations_appeal"),
    path("reports", api.Reports.as_view(), name="reports"),
]
