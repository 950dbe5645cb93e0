"""Pages of contributions and evidence."""

from django.urls import path

from apps.evidence import pages

urlpatterns = [
    path("contributions", pages.contribution_list, name="contributions_page"),
    path("contributions/new", pages.contribution_new, name="contribution_new_page"),
    path("contributions/<str:contribution_id>", pages.contribution_detail, name="contribution_page"),
]
