from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "apps.chat"
    label = "chat"

    def ready(self) -> None:
        """Wire chat to the rest: the upload body limit, and the realtime layer's subscriptions to domain events."""
        from apps.chat import hub, realtime
        from apps.chat.attachments import MAX_BYTES, MULTIPART_OVERHEAD, UPLOAD_PATH
        from apps.core import events
        from apps.core.middleware import BODY_LIMIT_OVERRIDES

        # The upload path accepts a 20 MiB file (plus multipart framing) instead of the JSON body limit.
        BODY_LIMIT_OVERRIDES[UPLOAD_PATH] = MAX_BYTES + MULTIPART_OVERHEAD
        # Domains announce what happened; the realtime layer decides what it means for open streams.
        events.subscribe(events.UserSessionsRevoked, hub.on_sessions_revoked)
        events.subscribe(events.MessageVisibilityChanged, realtime.on_message_visibility_changed)
        events.subscribe(realtime.MembershipEnded, hub.on_membership_ended)
