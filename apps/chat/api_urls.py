"""/v1/chat/ routes (the WebSocket route lives in gotong/asgi.py)."""

from django.urls import path

from apps.chat import api, api_attachments, api_search, sse

T = "threads/<str:thread_id>"

urlpatterns = [
    # The busiest route first: routes are tried in order, each one before it costs every send (issue 14).
    path(f"{T}/messages/send", api.SendView.as_view(), name="chat-send"),
    path("threads", api.ThreadsView.as_view(), name="chat-threads"),
    path("threads/discover", api.DiscoverView.as_view(), name="chat-threads-discover"),  # before {T}
    path(f"{T}", api.ThreadView.as_view(), name="chat-thread"),
    path(f"{T}/members", api.MembersView.as_view(), name="chat-members"),
    path(f"{T}/join", api.JoinView.as_view(), name="chat-join"),
    path(f"{T}/leave", api.LeaveView.as_view(), name="chat-leave"),
    path(f"{T}/members/<str:user_id>/mute", api.MuteView.as_view(), name="chat-mute"),
    path(f"{T}/members/<str:user_id>/remove", api.RemoveView.as_view(), name="chat-remove"),
    path(f"{T}/messages", api.MessagesView.as_view(), name="chat-messages"),
    path(f"{T}/messages/poll", api.PollView.as_view(), name="chat-poll"),
    path(f"{T}/messages/stream", sse.stream, name="chat-stream"),
    path(f"{T}/messages/ws", sse.websocket_only, name="chat-ws-http"),
    path(f"{T}/messages/<str:message_id>", api.MessageView.as_view(), name="chat-message"),
    path(f"{T}/read-cursor", api.CursorView.as_view(), name="chat-cursor"),
    path(f"{T}/typing", api_search.TypingView.as_view(), name="chat-typing"),
    path(f"{T}/mention-candidates", api_search.MentionCandidatesView.as_view(), name="chat-mention-candidates"),
    path("attachments/upload", api_attachments.AttachmentUploadView.as_view(), name="chat-attachment-upload"),
    path(
        "attachments/<str:attachment_id>/download",
        api_attachments.AttachmentDownloadView.as_view(),
        name="chat-attachment-download",
    ),
    path("telemetry", api.TelemetryView.as_view(), name="chat-telemetry"),
    path("search", api_search.SearchView.as_view(), name="chat-search"),
]
