"""Admin JSON API of the outbox under /v1/admin/webhooks/ (role admin/system): parse, call a service, answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import IsAdmin
from apps.accounts.serializers import ErrorEnvelopeSerializer
from apps.core.api import validated
from apps.core.api_view import APIView
from apps.webhooks import services
from apps.webhooks.serializers import (
    DeliveryLogListSerializer,
    ListQuerySerializer,
    OutboxEventSerializer,
    OutboxListSerializer,
    ReplayByStatusSerializer,
    ReplayResultSerializer,
)

_TEXT = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden (admin role required)",
    404: "not_found",
    409: "conflict (the event is being delivered right now)",
    415: "unsupported_media_type",
    429: "rate_limited (Retry-After header)",
}
EVENT_ID = OpenApiParameter("event_id", str, OpenApiParameter.PATH, description="`evt_` + 16 hex")


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {s: OpenApiResponse(ErrorEnvelopeSerializer, description=_TEXT[s]) for s in statuses}


class AdminView(APIView):
    permission_classes = [IsAdmin]


class OutboxListView(AdminView):
    @extend_schema(
        operation_id="webhooks_outbox_list",
        parameters=[ListQuerySerializer],
        responses={200: OutboxListSerializer, **_errors(400, 401, 403, 429)},
    )
    async def get(self, request: Request) -> Response:
        query = validated(ListQuerySerializer, request.query_params.dict())
        events = await services.list_events(status=query.get("status"), limit=query["limit"])
        return Response({"events": events})


class OutboxEventView(AdminView):
    @extend_schema(
        operation_id="webhooks_outbox_get",
        parameters=[EVENT_ID],
        responses={200: OutboxEventSerializer, **_errors(401, 403, 404, 429)},
    )
    async def get(self, request: Request, event_id: str) -> Response:
        return Response(await services.get_event(event_id))


class OutboxLogsView(AdminView):
    @extend_schema(
        operation_id="webhooks_outbox_logs",
        parameters=[EVENT_ID],
        responses={200: DeliveryLogListSerializer, **_errors(401, 403, 404, 429)},
    )
    async def get(self, request: Request, event_id: str) -> Response:
        return Response({"event_id": event_id, "logs": await services.event_logs(event_id)})


class OutboxReplayView(AdminView):
    @extend_schema(
        operation_id="webhooks_outbox_replay",
        parameters=[EVENT_ID],
        request=None,
        responses={200: OutboxEventSerializer, **_errors(401, 403, 404, 409, 429)},
    )
    async def post(self, request: Request, event_id: str) -> Response:
        return Response(await services.replay(event_id))


class OutboxReplayByStatusView(AdminView):
    @extend_schema(
        operation_id="webhooks_outbox_replay_by_status",
        request=ReplayByStatusSerializer,
        responses={200: ReplayResultSerializer, **_errors(400, 401, 403, 415, 429)},
    )
    async def post(self, request: Request) -> Response:
        data = validated(ReplayByStatusSerializer, request.data)
        ids = await services.replay_status(status=data["status"], limit=data["limit"])
        return Response({"status": data["status"], "replayed": len(ids), "event_ids": ids})
