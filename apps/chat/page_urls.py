"""Chat page routes (included at "")."""

from django.urls import path

from apps.chat import pages

urlpatterns = [
    path("threads", pages.thread_list, name="chat-thread-list"),
    path("threads/<str:thread_id>", pages.thread_page, name="chat-thread-page"),
    path("threads/<str:thread_id>/join", pages.join_page, name="chat-thread-join"),
]
