"""/v1/ routes of contributions, evidence, evidence uploads and vouches."""

from django.urls import path

from apps.evidence import api

urlpatterns = [
    path("contributions", api.ContributionListCreate.as_view(), name="contributions"),
    path("contributions/<str:contribution_id>", api.ContributionDetail.as_view(), name="contribution"),
    path("contributions/<str:contribution_id>/evidence", api.ContributionEvidence.as_view(), name="contribution_ev"),
    path("evidence", api.EvidenceCreate.as_view(), name="evidence_create"),
    path("evidence/uploads", api.UploadCreate.as_view(), name="evidence_uploads"),
    path("evidence/uploads/<str:upload_id>/confirm", api.UploadConfirm.as_view(), name="evidence_upload_confirm"),
    path("evidence/<str:evidence_id>", api.EvidenceDetail.as_view(), name="evidence"),
    path("evidence/<str:evidence_id>/media", api.EvidenceMedia.as_view(), name="evidence_media"),
    path("vouches", api.VouchListCreate.as_view(), name="vouches"),
]
