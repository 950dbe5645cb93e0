from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "apps.chat"
    label = "chat"

    def ready(self) -> None:
        """The upload path accepts a 20 MiB file (plus multipart framing) instead of the JSON body limit."""
        from apps.chat.attachments import MAX_BYTES, MULTIPART_OVERHEAD, UPLOAD_PATH
        from apps.core.middleware import BODY_LIMIT_OVERRIDES

        BODY_LIMIT_OVERRIDES[UPLOAD_PATH] = MAX_BYTES + MULTIPART_OVERHEAD
