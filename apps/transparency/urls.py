"""/v1/transparency/ routes (public)."""

from django.urls import path

from apps.transparency import api

urlpatterns = [
    path("public-key", api.PublicKeyView.as_view(), name="transparency_public_key"),
    path("checkpoint", api.CheckpointView.as_view(), name="transparency_checkpoint"),
    path("entries/<str:index>", api.EntryView.as_view(), name="transparency_entry"),
    path("proofs/inclusion", api.InclusionProofView.as_view(), name="transparency_inclusion"),
    path("proofs/consistency", api.ConsistencyProofView.as_view(), name="transparency_consistency"),
]
