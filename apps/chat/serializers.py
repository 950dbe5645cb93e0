"""Request/response shapes of the chat API (validated at the edge, documented in OpenAPI)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from apps.accounts.serializers import NO_NUL, PatternText, StrictCharField
from apps.core.openapi import DocumentedSerializer

BODY_MAX = 2000
MAX_ATTACHMENTS = 20
# At least one character that survives str.strip() and no NUL (documented pattern = enforced rule).
NON_BLANK = r"^[^\x00]*[^\x00\s\x1c-\x1f\x85][^\x00]*$"
UPLOAD_PROBLEM = "send exactly one file, in the part named 'file'"


class StrictIntegerField(serializers.IntegerField):
    """Refuses booleans, floats and strings (DRF would coerce ``"5"`` and ``true``)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def message_body(**kwargs: Any) -> PatternText:
    """A message's text: trimmed, 1..BODY_MAX characters after trimming; blank is "must not be empty"."""
    return PatternText(
        NON_BLANK, max_length=BODY_MAX, trim_whitespace=True, error_messages={"blank": "must not be empty"}, **kwargs
    )


class UploadedFile(serializers.FileField):
    """The ``file`` part as received: apps/chat/uploads.py judges its bytes (type sniffed, size, empty)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(error_messages=dict.fromkeys(("required", "null", "invalid"), UPLOAD_PROBLEM), **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not hasattr(data, "read"):  # DRF's own checks (empty file, name) would answer in other words
            self.fail("invalid")
        return data


# No docstrings on the request serializers below unless meant for the document: drf-spectacular
# publishes a request serializer's docstring as its component's description.


class ThreadCreateSerializer(serializers.Serializer):
    scope_id = PatternText(NO_NUL, min_length=1, max_length=128, trim_whitespace=False)
    privacy_level = serializers.ChoiceField(choices=["public", "private"])
    title = PatternText(
        NO_NUL, max_length=200, required=False, allow_null=True, allow_blank=True, default=None, trim_whitespace=False
    )

    def validate_title(self, value: str | None) -> str | None:
        return value or None

    def validate_privacy_level(self, value: Any) -> str:
        if not isinstance(self.initial_data.get("privacy_level"), str):
            raise serializers.ValidationError("must be a string")
        return value


class ThreadListQuery(serializers.Serializer):
    scope_id = serializers.CharField(max_length=128, required=False, allow_blank=True, help_text="empty = your threads")
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


class MessageQuery(serializers.Serializer):
    after_seq = serializers.IntegerField(min_value=0, required=False, max_value=2**53)
    before_seq = serializers.IntegerField(min_value=1, required=False, max_value=2**53)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)
    since_created_at_ms = serializers.IntegerField(min_value=0, required=False, max_value=2**53)
    since_message_id = serializers.RegexField(r"^[0-9a-f]{32}$", required=False)


class StreamQuery(serializers.Serializer):
    after_seq = serializers.IntegerField(min_value=0, required=False, max_value=2**53)


class AttachmentRefSerializer(DocumentedSerializer):
    """One attachment of a message: exactly ``{"attachment_id": ...}`` (other keys are refused)."""

    openapi_extra = {"additionalProperties": False}
    attachment_id = serializers.RegexField(r"^[0-9a-f]{32}$")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        unknown = sorted(set(data) - {"attachment_id"}) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError({"attachment_id": [f"unknown key(s) next to it: {', '.join(unknown)}"]})
        return super().to_internal_value(data)


class SendSerializer(DocumentedSerializer):
    # A ListSerializer (many=True) keeps DRF's per-item error lists; it publishes no maxItems, hence the extra.
    # uniqueItems: the service refuses "the same attachment is listed twice".
    openapi_extra = {"properties": {"attachments": {"maxItems": MAX_ATTACHMENTS, "uniqueItems": True}}}
    body = message_body(help_text=f"1..{BODY_MAX} characters after trim")
    attachments = AttachmentRefSerializer(
        many=True,
        required=False,
        default=list,
        max_length=MAX_ATTACHMENTS,
        help_text="Uploads made by the sender (POST /v1/chat/attachments/upload), each used by one message.",
    )


class EditSerializer(serializers.Serializer):
    body = message_body()


USERNAME = r"^[A-Za-z0-9_.-]{3,64}$"


class AddMemberSerializer(DocumentedSerializer):
    """Invite by ``user_id`` or by ``username`` (any case; additive to the spec); both given: user_id wins."""

    openapi_extra = {"anyOf": [{"required": ["user_id"]}, {"required": ["username"]}]}
    user_id = serializers.RegexField(r"^[0-9a-f]{32}$", required=False)
    username = serializers.RegexField(USERNAME, required=False, help_text="instead of user_id (any case)")
    role = serializers.ChoiceField(choices=["member", "admin"], required=False, default="member")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for key in ("user_id", "username"):
            if key in self.initial_data and not isinstance(self.initial_data.get(key), str):
                raise serializers.ValidationError({key: ["must be a string"]})
        if "user_id" not in attrs and "username" not in attrs:
            raise serializers.ValidationError({"user_id": ["give user_id or username"]})
        if "user_id" in attrs:
            attrs.pop("username", None)
        return attrs


class DiscoverQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


class MuteSerializer(serializers.Serializer):
    minutes = StrictIntegerField(min_value=0, max_value=525_600, help_text="0 unmutes")


class CursorSerializer(DocumentedSerializer):
    """``{"message_id": ...}`` or ``{"seq": ...}`` (both: message_id wins); no other keys.

    Stated as a closed object with at least one key rather than ``anyOf`` of two ``required``
    lists: the same rule, and one that schema-driven clients and fuzzers handle.
    """

    openapi_extra = {"additionalProperties": False, "minProperties": 1}
    message_id = serializers.RegexField(r"^[0-9a-f]{32}$", required=False)
    seq = StrictIntegerField(min_value=1, max_value=2**53, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - {"message_id", "seq"})
        if unknown:
            raise serializers.ValidationError({unknown[0]: ["unknown field (send message_id or seq)"]})
        if "message_id" not in attrs and "seq" not in attrs:
            raise serializers.ValidationError({"message_id": ["give message_id or seq"]})
        return attrs  # both given: message_id wins


class TelemetrySerializer(serializers.Serializer):
    TRANSPORTS = ["websocket", "sse", "polling"]
    from_ = serializers.ChoiceField(choices=TRANSPORTS)
    to = serializers.ChoiceField(choices=TRANSPORTS)
    reason = StrictCharField(validators=[RegexValidator(r"^[a-z0-9_]{1,64}$")], help_text="^[a-z0-9_]{1,64}$")


TelemetrySerializer._declared_fields["from"] = TelemetrySerializer._declared_fields.pop("from_")


# -- responses -----------------------------------------------------------------


class ThreadSerializer(serializers.Serializer):
    thread_id = serializers.CharField()
    scope_id = serializers.CharField()
    title = serializers.CharField(allow_null=True)
    created_by = serializers.CharField()
    privacy_level = serializers.ChoiceField(choices=["public", "private"])
    last_seq = serializers.IntegerField()
    created_at_ms = serializers.IntegerField()
    updated_at_ms = serializers.IntegerField()


class AuthorSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    username = serializers.CharField(allow_null=True)
    role = serializers.CharField(allow_null=True)


class AttachmentViewSerializer(serializers.Serializer):
    attachment_id = serializers.CharField()
    media_type = serializers.CharField()
    mime_type = serializers.CharField()
    file_name = serializers.CharField()
    size_bytes = serializers.IntegerField()
    url = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    thread_id = serializers.CharField()
    message_id = serializers.CharField()
    seq = serializers.IntegerField()
    author_id = serializers.CharField()
    author = AuthorSerializer()
    body = serializers.CharField(allow_blank=True)
    attachments = AttachmentViewSerializer(many=True)
    mentions = serializers.ListField(
        child=serializers.CharField(), help_text="user ids of thread members the body @mentions (empty when blanked)"
    )
    created_at_ms = serializers.IntegerField()
    edited_at_ms = serializers.IntegerField(allow_null=True)
    deleted_at_ms = serializers.IntegerField(allow_null=True)
    moderation_status = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(allow_null=True)
    correlation_id = serializers.CharField(allow_null=True)


class ThreadItemSerializer(ThreadSerializer):
    member_count = serializers.IntegerField()
    unread_count = serializers.IntegerField()
    mention_count = serializers.IntegerField(help_text="messages after your read cursor that @mention you")
    last_message = MessageSerializer(allow_null=True)
    last_activity_ms = serializers.IntegerField(help_text="additive: the last message, or the creation")


class MemberSerializer(serializers.Serializer):
    thread_id = serializers.CharField()
    user_id = serializers.CharField()
    role = serializers.ChoiceField(choices=["owner", "admin", "member"])
    joined_at_ms = serializers.IntegerField()
    left_at_ms = serializers.IntegerField(allow_null=True)
    mute_until_ms = serializers.IntegerField(allow_null=True)


class MemberListItemSerializer(MemberSerializer):
    username = serializers.CharField(allow_null=True, help_text="additive: the member's username")


class DiscoverItemSerializer(ThreadSerializer):
    member_count = serializers.IntegerField()
    last_activity_ms = serializers.IntegerField(help_text="the last message, or the creation")
    joined = serializers.BooleanField(help_text="the caller is an active member")


class CursorViewSerializer(serializers.Serializer):
    thread_id = serializers.CharField()
    user_id = serializers.CharField()
    last_read_seq = serializers.IntegerField()
    last_read_message_id = serializers.CharField(allow_null=True)
    last_read_at_ms = serializers.IntegerField()


class AttachmentFileSerializer(serializers.Serializer):
    """multipart/form-data with one part ``file`` (image/video/audio, ≤ 20 MiB)."""

    file = UploadedFile(help_text="image/*, video/* or audio/*; type sniffed from the bytes; ≤ 20 MiB")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        files = self.initial_data  # request.FILES: no other part, and one file in "file"
        if len(files) != 1 or len(files.getlist("file")) != 1:
            raise serializers.ValidationError({"file": [UPLOAD_PROBLEM]})
        return attrs


class AttachmentUploadSerializer(serializers.Serializer):
    attachment_id = serializers.CharField()
    file_name = serializers.CharField()
    mime_type = serializers.CharField()
    size_bytes = serializers.IntegerField()
    media_type = serializers.ChoiceField(choices=["image", "video", "audio"])
    url = serializers.CharField(help_text="signed download URL (no auth needed until expires_at_ms)")
    expires_at_ms = serializers.IntegerField()


class DownloadQuery(serializers.Serializer):
    exp = serializers.IntegerField(min_value=0, max_value=2**53, help_text="expiry, epoch seconds")
    sig = serializers.RegexField(r"^[0-9a-f]{64}$", help_text='hex HMAC-SHA256(JWT_SECRET, "{attachment_id}:{exp}")')
