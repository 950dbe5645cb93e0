"""JSON endpoints of contributions, evidence, evidence uploads and vouches: call a service, answer.

Each operation publishes its input as the serializer of ``apps.evidence.inputs`` that the service
parses it with (the pages call the same services), so the document is the validator.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseRedirect, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.permissions import IsAuthenticated
from apps.accounts.serializers import ErrorEnvelopeSerializer
from apps.core.api_view import APIView
from apps.core.idempotency import run_idempotent
from apps.evidence import inputs, services, services_evidence, services_uploads
from apps.evidence import serializers as s

_TEXT = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large (details.limit_bytes)",
    415: "unsupported_media_type",
    422: "evidence_rejected (details.reason)",
    429: "rate_limited (Retry-After header)",
    503: "unavailable (object storage or database)",
}
ID_PATH = r"[0-9A-Za-z_-]{1,64}"


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorEnvelopeSerializer, description=_TEXT[code]) for code in statuses}


def _absolute(request: Request, url: str) -> str:
    return request._request.build_absolute_uri(url) if url.startswith("/") else url


class AuthedView(APIView):
    permission_classes = [IsAuthenticated]


async def _idempotent(request: Request, operation: str, handler: Any) -> JsonResponse:
    async def run() -> tuple[int, Any]:
        return 201, await handler(request.user, request.data)

    return await run_idempotent(request._request, operation, request.user.user_id, request.data, run)


class ContributionListCreate(AuthedView):
    @extend_schema(
        operation_id="contributions_create",
        request=inputs.ContributionCreateSerializer,
        responses={201: s.ContributionSerializer, **_errors(400, 401, 403, 409, 415, 429)},
    )
    async def post(self, request: Request) -> JsonResponse:
        return await _idempotent(request, "evidence.contribution_create", services.create_contribution)

    @extend_schema(
        operation_id="contributions_list",
        parameters=[inputs.ContributionListQuery],
        responses={200: s.ContributionSerializer(many=True), **_errors(400, 401, 429)},
    )
    async def get(self, request: Request) -> Response:
        return Response(await services.list_contributions(request.user, request.query_params))


class ContributionDetail(AuthedView):
    @extend_schema(
        operation_id="contributions_get", responses={200: s.ContributionSerializer, **_errors(401, 404, 429)}
    )
    async def get(self, request: Request, contribution_id: str) -> Response:
        return Response(await services.get_contribution(contribution_id))


class ContributionEvidence(AuthedView):
    @extend_schema(
        operation_id="contributions_evidence",
        parameters=[inputs.LimitQuery],
        responses={200: s.EvidenceSerializer(many=True), **_errors(400, 401, 404, 429)},
    )
    async def get(self, request: Request, contribution_id: str) -> Response:
        return Response(await services_evidence.list_evidence(contribution_id, request.query_params))


class EvidenceCreate(AuthedView):
    @extend_schema(
        operation_id="evidence_create",
        request=inputs.EvidenceCreateSerializer,
        responses={201: s.EvidenceSerializer, **_errors(400, 401, 403, 404, 409, 415, 429)},
    )
    async def post(self, request: Request) -> JsonResponse:
        return await _idempotent(request, "evidence.evidence_create", services_evidence.create_evidence)


class EvidenceDetail(AuthedView):
    @extend_schema(operation_id="evidence_get", responses={200: s.EvidenceSerializer, **_errors(401, 404, 429)})
    async def get(self, request: Request, evidence_id: str) -> Response:
        return Response(await services_evidence.get_evidence(evidence_id))


class EvidenceMedia(AuthedView):
    @extend_schema(
        operation_id="evidence_media",
        responses={
            307: OpenApiResponse(description="redirect (Location) to a presigned GET valid 15 minutes"),
            **_errors(401, 403, 404, 429, 503),
        },
    )
    async def get(self, request: Request, evidence_id: str) -> HttpResponseRedirect:
        url = await services_evidence.media_url(request.user, evidence_id)
        response = HttpResponseRedirect(url)
        response.status_code = 307
        response["Cache-Control"] = "no-store"
        return response


class UploadCreate(AuthedView):
    @extend_schema(
        operation_id="evidence_uploads_create",
        request=inputs.UploadCreateSerializer,
        responses={201: s.UploadTicketSerializer, **_errors(400, 401, 403, 404, 413, 415, 429, 503)},
    )
    async def post(self, request: Request) -> Response:
        ticket = await services_uploads.request_upload(request.user, request.data)
        ticket["upload_url"] = _absolute(request, ticket["upload_url"])
        return Response(ticket, status=201)


class UploadConfirm(AuthedView):
    @extend_schema(
        operation_id="evidence_uploads_confirm",
        request=None,
        responses={200: s.UploadVerifiedSerializer, **_errors(401, 403, 404, 409, 422, 429, 503)},
    )
    async def post(self, request: Request, upload_id: str) -> Response:
        return Response(await services_uploads.confirm_upload(request.user, upload_id))


class VouchListCreate(AuthedView):
    @extend_schema(
        operation_id="vouches_create",
        request=inputs.VouchCreateSerializer,
        responses={201: s.VouchSerializer, **_errors(400, 401, 403, 404, 409, 415, 429)},
    )
    async def post(self, request: Request) -> JsonResponse:
        return await _idempotent(request, "evidence.vouch_create", services.create_vouch)

    @extend_schema(
        operation_id="vouches_list",
        parameters=[inputs.VouchListQuery],
        responses={200: s.VouchSerializer(many=True), **_errors(400, 401, 404, 429)},
    )
    async def get(self, request: Request) -> Response:
        return Response(await services.list_vouches(request.user, request.query_params))
