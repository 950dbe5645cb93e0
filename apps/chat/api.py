"""JSON endpoints under /v1/chat/: parse input, call a service, shape the answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import IsAuthenticated
from apps.accounts.serializers import ErrorEnvelopeSerializer
from apps.chat import serializers as s
from apps.chat import services
from apps.core import metrics
from apps.core.api import validated
from apps.core.api_view import APIView
from apps.core.idempotency import run_idempotent

_TEXT = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden (not a member / not allowed / muted with details.reason = muted / CSRF)",
    404: "not_found (unknown thread or message, or a private thread the caller does not belong to)",
    409: "conflict (request still in progress, or X-Request-ID reused with another body)",
    413: "payload_too_large (details.limit_bytes)",
    415: "unsupported_media_type",
    429: "rate_limited (Retry-After header)",
}


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorEnvelopeSerializer, description=_TEXT[code]) for code in statuses}


def _query(request: Request, serializer: type) -> dict[str, Any]:
    return validated(serializer, request.query_params.dict())


THREAD_ID = OpenApiParameter("thread_id", OpenApiTypes.STR, OpenApiParameter.PATH)


class ChatView(APIView):
    permission_classes = [IsAuthenticated]


class ThreadsView(ChatView):
    @extend_schema(
        operation_id="chat_threads_create",
        request=s.ThreadCreateSerializer,
        responses={201: s.ThreadSerializer, **_errors(400, 401, 403, 409, 415, 429)},
    )
    async def post(self, request: Request) -> Response:
        data = validated(s.ThreadCreateSerializer, request.data)
        principal = request.user

        async def create() -> tuple[int, Any]:
            return 201, await services.create_thread(principal, **data)

        return await run_idempotent(request._request, "chat.thread_create", principal.user_id, data, create)

    @extend_schema(
        operation_id="chat_threads_list",
        parameters=[s.ThreadListQuery],
        responses={200: s.ThreadItemSerializer(many=True), **_errors(400, 401, 429)},
    )
    async def get(self, request: Request) -> Response:
        query = _query(request, s.ThreadListQuery)
        return Response(await services.list_threads(request.user, scope_id=query.get("scope_id"), limit=query["limit"]))


class DiscoverView(ChatView):
    @extend_schema(
        operation_id="chat_threads_discover",
        parameters=[s.DiscoverQuery],
        responses={200: s.DiscoverItemSerializer(many=True), **_errors(400, 401, 429)},
        description="Public threads of the caller's community (its scope_id), newest activity first.",
    )
    async def get(self, request: Request) -> Response:
        query = _query(request, s.DiscoverQuery)
        return Response(await services.discover(request.user, limit=query["limit"]))


class ThreadView(ChatView):
    @extend_schema(
        operation_id="chat_thread_get",
        parameters=[THREAD_ID],
        responses={200: s.ThreadSerializer, **_errors(401, 404, 429)},
    )
    async def get(self, request: Request, thread_id: str) -> Response:
        return Response(await services.get_thread(request.user, thread_id))


class MembersView(ChatView):
    @extend_schema(
        operation_id="chat_members_list",
        parameters=[THREAD_ID],
        responses={200: s.MemberListItemSerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    async def get(self, request: Request, thread_id: str) -> Response:
        return Response(await services.list_members(request.user, thread_id))

    @extend_schema(
        operation_id="chat_members_add",
        parameters=[THREAD_ID],
        request=s.AddMemberSerializer,
        responses={201: s.MemberSerializer, **_errors(400, 401, 403, 404, 415, 429)},
    )
    async def post(self, request: Request, thread_id: str) -> Response:
        data = validated(s.AddMemberSerializer, request.data)
        return Response(await services.add_member(request.user, thread_id, **data), status=201)


class JoinView(ChatView):
    @extend_schema(
        operation_id="chat_thread_join",
        parameters=[THREAD_ID],
        request=None,
        responses={200: s.MemberSerializer, **_errors(401, 403, 404, 429)},
    )
    async def post(self, request: Request, thread_id: str) -> Response:
        return Response(await services.join(request.user, thread_id))


class LeaveView(ChatView):
    @extend_schema(
        operation_id="chat_thread_leave",
        parameters=[THREAD_ID],
        request=None,
        responses={200: s.MemberSerializer, **_errors(401, 403, 404, 429)},
    )
    async def post(self, request: Request, thread_id: str) -> Response:
        return Response(await services.leave(request.user, thread_id))


class MuteView(ChatView):
    @extend_schema(
        operation_id="chat_member_mute",
        request=s.MuteSerializer,
        responses={200: s.MemberSerializer, **_errors(400, 401, 403, 404, 415, 429)},
    )
    async def post(self, request: Request, thread_id: str, user_id: str) -> Response:
        data = validated(s.MuteSerializer, request.data)
        return Response(await services.mute(request.user, thread_id, user_id, minutes=data["minutes"]))


class RemoveView(ChatView):
    @extend_schema(
        operation_id="chat_member_remove",
        request=None,
        responses={200: s.MemberSerializer, **_errors(401, 403, 404, 429)},
    )
    async def post(self, request: Request, thread_id: str, user_id: str) -> Response:
        return Response(await services.remove(request.user, thread_id, user_id))


async def _messages(request: Request, thread_id: str) -> Response:
    query = _query(request, s.MessageQuery)
    return Response(
        await services.list_messages(
            request.user,
            thread_id,
            after_seq=query.get("after_seq"),
            before_seq=query.get("before_seq"),
            limit=query["limit"],
            since_message_id=query.get("since_message_id"),
        )
    )


class MessagesView(ChatView):
    @extend_schema(
        operation_id="chat_messages_list",
        parameters=[THREAD_ID, s.MessageQuery],
        responses={200: s.MessageSerializer(many=True), **_errors(400, 401, 403, 404, 429)},
    )
    async def get(self, request: Request, thread_id: str) -> Response:
        return await _messages(request, thread_id)


class PollView(ChatView):
    @extend_schema(
        operation_id="chat_messages_poll",
        parameters=[THREAD_ID, s.MessageQuery],
        responses={200: s.MessageSerializer(many=True), **_errors(400, 401, 403, 404, 429)},
    )
    async def get(self, request: Request, thread_id: str) -> Response:
        return await _messages(request, thread_id)


class SendView(ChatView):
    @extend_schema(
        operation_id="chat_messages_send",
        parameters=[THREAD_ID],
        request=s.SendSerializer,
        responses={201: s.MessageSerializer, **_errors(400, 401, 403, 404, 409, 415, 429)},
    )
    async def post(self, request: Request, thread_id: str) -> Response:
        data = validated(s.SendSerializer, request.data)
        principal = request.user
        attachments = [a["attachment_id"] for a in data.get("attachments") or []]

        async def send() -> tuple[int, Any]:
            return 201, await services.send_message(principal, thread_id, body=data["body"], attachments=attachments)

        scope = f"{principal.user_id}:{thread_id}"
        # (thread_id, request_id) is UNIQUE: sends go on while Redis is down.
        return await run_idempotent(request._request, "chat.send", scope, data, send, database_backed=True)


class MessageView(ChatView):
    @extend_schema(
        operation_id="chat_message_edit",
        request=s.EditSerializer,
        responses={200: s.MessageSerializer, **_errors(400, 401, 403, 404, 415, 429)},
    )
    async def patch(self, request: Request, thread_id: str, message_id: str) -> Response:
        await services.access(request.user, thread_id)  # unknown/private thread: 404 before the body
        data = validated(s.EditSerializer, request.data)
        return Response(await services.edit_message(request.user, thread_id, message_id, body=data["body"]))

    @extend_schema(
        operation_id="chat_message_delete",
        request=None,
        responses={204: OpenApiResponse(description="deleted (tombstone)"), **_errors(401, 403, 404, 429)},
    )
    async def delete(self, request: Request, thread_id: str, message_id: str) -> Response:
        await services.delete_message(request.user, thread_id, message_id)
        return Response(status=204)


class CursorView(ChatView):
    @extend_schema(
        operation_id="chat_read_cursor_get",
        parameters=[THREAD_ID],
        responses={200: s.CursorViewSerializer, **_errors(401, 403, 404, 429)},
    )
    async def get(self, request: Request, thread_id: str) -> Response:
        return Response(await services.get_cursor(request.user, thread_id))

    @extend_schema(
        operation_id="chat_read_cursor_set",
        parameters=[THREAD_ID],
        request=s.CursorSerializer,
        responses={200: s.CursorViewSerializer, **_errors(400, 401, 403, 404, 415, 429)},
    )
    async def post(self, request: Request, thread_id: str) -> Response:
        await services.access(request.user, thread_id)  # unknown/private thread: 404 before the body
        data = validated(s.CursorSerializer, request.data)
        return Response(
            await services.set_cursor(request.user, thread_id, message_id=data.get("message_id"), seq=data.get("seq"))
        )


class TelemetryView(ChatView):
    @extend_schema(
        operation_id="chat_telemetry",
        request=s.TelemetrySerializer,
        responses={204: OpenApiResponse(description="recorded"), **_errors(400, 401, 403, 415, 429)},
    )
    async def post(self, request: Request) -> Response:
        data = validated(s.TelemetrySerializer, request.data)
        metrics.realtime_fallback_total.labels(data["from"], data["to"], data["reason"]).inc()
        return Response(status=204)
