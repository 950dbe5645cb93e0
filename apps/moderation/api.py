"""The moderation JSON API (06-moderation.md "API"): parse with the published serializer, call a service, answer.

Bodies are parsed inside the idempotent handler, as before: a retry with the same
X-Request-ID and another body is a 409 (key reused) whether or not that body is valid.
"""

from __future__ import annotations

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import IsAuthenticated, IsModerator
from apps.accounts.serializers import ErrorEnvelopeSerializer
from apps.core.api import validated
from apps.core.api_view import APIView
from apps.core.idempotency import run_idempotent
from apps.moderation import appeals, reports, selectors, services
from apps.moderation import serializers as s
from apps.moderation.domain import Actor, valid_content_id

_TEXT = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden (moderator role required, or not the author)",
    404: "not_found",
    409: "conflict (already reported/appealed, idempotency key reused, or in progress)",
    415: "unsupported_media_type",
    429: "rate_limited (Retry-After header)",
}
CONTENT_ID = OpenApiParameter("content_id", str, OpenApiParameter.PATH, description="the moderated entity's id")


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorEnvelopeSerializer, description=_TEXT[code]) for code in statuses}


def _clamp(limit: int) -> int:
    return max(1, min(200, limit))


class DecisionCreate(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        operation_id="moderations_create",
        request=s.DecisionRequestSerializer,
        responses={201: s.DecisionResultSerializer, **_errors(400, 401, 403, 404, 409, 415, 429)},
        description="Record a decision. Idempotent on (content_id, X-Request-ID).",
    )
    async def post(self, request: Request) -> JsonResponse:
        data = request.data
        content_id = data.get("content_id") if isinstance(data, dict) else None
        scope = content_id if valid_content_id(content_id) else "-"

        async def run() -> tuple[int, dict]:
            return 201, await services.decide(Actor.of(request.user), s.decision_input(data))

        return await run_idempotent(request._request, "moderation.decide", scope, data, run)


class ReviewQueue(APIView):
    permission_classes = [IsModerator]

    @extend_schema(
        operation_id="moderations_review_queue",
        parameters=[s.QueueQuerySerializer],
        responses={200: s.QueueSerializer, **_errors(400, 401, 403, 429)},
    )
    async def get(self, request: Request) -> Response:
        query = validated(s.QueueQuerySerializer, request.query_params.dict())
        items = await selectors.review_queue(
            kind=query.get("kind"), content_type=query.get("content_type"), limit=_clamp(query["limit"])
        )
        return Response({"items": items})


class ModerationDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="moderations_get",
        parameters=[CONTENT_ID],
        responses={200: s.ProjectedViewSerializer, **_errors(401, 404, 429)},
    )
    async def get(self, request: Request, content_id: str) -> Response:
        return Response(await selectors.view_for(request.user, content_id))


class AppealCreate(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="moderations_appeal",
        parameters=[CONTENT_ID],
        request=s.AppealRequestSerializer,
        responses={201: s.AppealResultSerializer, **_errors(400, 401, 403, 404, 409, 415, 429)},
    )
    async def post(self, request: Request, content_id: str) -> JsonResponse:
        async def run() -> tuple[int, dict]:
            return 201, await appeals.appeal(request.user, content_id, s.appeal_statement(request.data))

        return await run_idempotent(request._request, "moderation.appeal", request.user.user_id, request.data, run)


class Reports(APIView):
    def get_permissions(self):
        return [IsModerator()] if self.request.method == "GET" else [IsAuthenticated()]

    @extend_schema(
        operation_id="reports_create",
        request=s.ReportRequestSerializer,
        responses={201: s.ReportSerializer, **_errors(400, 401, 404, 409, 415, 429)},
    )
    async def post(self, request: Request) -> JsonResponse:
        async def run() -> tuple[int, dict]:
            return 201, await reports.report(request.user, s.report_input(request.data))

        return await run_idempotent(request._request, "moderation.report", request.user.user_id, request.data, run)

    @extend_schema(
        operation_id="reports_list",
        parameters=[s.ReportListQuerySerializer],
        responses={200: s.ReportListSerializer, **_errors(400, 401, 403, 429)},
    )
    async def get(self, request: Request) -> Response:
        query = validated(s.ReportListQuerySerializer, request.query_params.dict())
        rows = await selectors.list_reports(status=query["status"], limit=_clamp(query["limit"]))
        return Response({"reports": rows})
