"""/admin/ routes: the moderators' admin site (included at ``admin/``)."""

from django.urls import path

from apps.moderation import admin_pages as pages

urlpatterns = [
    path("", pages.index, name="gr_admin_index"),
    path("login/", pages.login, name="gr_admin_login"),
    path("logout/", pages.logout, name="gr_admin_logout"),
    path("moderation/queue/", pages.queue, name="gr_admin_queue"),
    path("moderation/queue/bulk/", pages.queue_bulk, name="gr_admin_queue_bulk"),
    path("moderation/items/<str:content_id>/", pages.item, name="gr_admin_item"),
    path("moderation/items/<str:content_id>/quick/", pages.item_quick, name="gr_admin_item_quick"),
    path("moderation/decisions/", pages.decisions, name="gr_admin_decisions"),
    path("moderation/reports/", pages.reports, name="gr_admin_reports"),
    path("users/", pages.users, name="gr_admin_users"),
    path("users/<str:user_id>/role/", pages.user_role, name="gr_admin_user_role"),
    path("users/<str:user_id>/enabled/", pages.user_enabled, name="gr_admin_user_enabled"),
    path("webhooks/outbox/", pages.outbox, name="gr_admin_outbox"),
    path("webhooks/outbox/<str:event_id>/", pages.outbox_event, name="gr_admin_outbox_event"),
]
