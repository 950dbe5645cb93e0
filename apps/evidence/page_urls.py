"""Pages of contributions, evidence thumbnails and member profiles (with vouching)."""

from django.urls import path

from apps.evidence import pages

urlpatterns = [
    path("contributions", pages.contribution_list, name="contributions_page"),
    path("contributions/new", pages.contribution_new, name="contribution_new_page"),
    path("contributions/<str:contribution_id>", pages.contribution_detail, name="contribution_page"),
    path("evidence/<str:evidence_id>/thumbnail", pages.evidence_thumbnail, name="evidence_thumbnail"),
    path("members/<str:username>", pages.member_profile, name="member_page"),
]
