"""Chat page routes (included at "")."""

from django.urls import path

from apps.chat import pages, pages_search

urlpatterns = [
    path("threads", pages.thread_list, name="chat-thread-list"),
    path("threads/discover", pages.discover_page, name="chat-discover"),  # before threads/<id>
    path("threads/search", pages_search.search_page, name="chat-search"),  # before threads/<id>
    path("threads/<str:thread_id>", pages.thread_page, name="chat-thread-page"),
    path("threads/<str:thread_id>/join", pages.join_page, name="chat-thread-join"),
    path("threads/<str:thread_id>/leave", pages.leave_page, name="chat-thread-leave"),
    path("threads/<str:thread_id>/members", pages.members_page, name="chat-thread-members"),
    path(
        "threads/<str:thread_id>/members/<str:user_id>/mute",
        pages.member_action,
        {"action": "mute"},
        name="chat-member-mute",
    ),
    path(
        "threads/<str:thread_id>/members/<str:user_id>/remove",
        pages.member_action,
        {"action": "remove"},
        name="chat-member-remove",
    ),
]
