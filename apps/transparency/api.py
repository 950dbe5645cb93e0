"""Public transparency endpoints (no sign-in, "transparency" rate-limit bucket per client IP): parse, call, answer."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.serializers import ErrorEnvelopeSerializer
from apps.core.api_view import APIView
from apps.core.ratelimit import client_ip, limiter
from apps.transparency import serializers as s
from apps.transparency import services

_TEXT = {
    400: "validation_error (details.fields)",
    404: "not_found (an index, tree size or proof the log does not hold)",
    429: "rate_limited (Retry-After header)",
    503: "unavailable",
}
_INDEX = {"type": "integer", "minimum": 0, "maximum": s.MAX_PARAM}  # the path's index: s.LeafIndex parses it


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorEnvelopeSerializer, description=_TEXT[code]) for code in statuses}


class AnyAccept(BaseContentNegotiation):
    """The text endpoints answer ``text/plain`` whatever the client accepts (curl, a verifier, a browser).

    DRF's default negotiation would refuse ``Accept: text/plain`` with 406 and honour a ``?format=`` override
    with 404; errors are still rendered as the JSON envelope by the one renderer.
    """

    def select_parser(self, request: Any, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: list[Any], format_suffix: str | None = None) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class PublicView(APIView):
    """No authentication (a stale token must not get in the way); one token of the "transparency" bucket per call."""

    authentication_classes: list = []
    permission_classes: list = []

    async def limit(self, request: Request) -> None:
        await limiter.hit("transparency", f"ip:{client_ip(request._request)}")


def _text(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


class PublicKeyView(PublicView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="transparency_public_key",
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="the note verifier key <name>+<8 hex>+<base64(0x01 || key)> and a newline"
            ),
            **_errors(429, 503),
        },
        auth=[],
    )
    async def get(self, request: Request) -> HttpResponse:
        await self.limit(request)
        return _text(await services.public_key())


class CheckpointView(PublicView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="transparency_checkpoint",
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="the latest C2SP tlog-checkpoint as a signed note"
            ),
            **_errors(404, 429, 503),
        },
        auth=[],
    )
    async def get(self, request: Request) -> HttpResponse:
        await self.limit(request)
        return _text(await services.latest_checkpoint())


class EntryView(PublicView):
    @extend_schema(
        operation_id="transparency_entry",
        parameters=[OpenApiParameter("index", _INDEX, OpenApiParameter.PATH, description="the leaf index")],
        responses={200: s.EntrySerializer, **_errors(400, 404, 429, 503)},
        auth=[],
    )
    async def get(self, request: Request, index: str) -> Response:
        await self.limit(request)
        return Response(await services.entry(index))


class InclusionProofView(PublicView):
    @extend_schema(
        operation_id="transparency_inclusion_proof",
        parameters=[s.InclusionProofQuery],
        responses={200: s.InclusionProofSerializer, **_errors(400, 404, 429, 503)},
        auth=[],
    )
    async def get(self, request: Request) -> Response:
        await self.limit(request)
        params = request.query_params
        return Response(await services.inclusion_proof(params.get("index"), params.get("tree_size")))


class ConsistencyProofView(PublicView):
    @extend_schema(
        operation_id="transparency_consistency_proof",
        parameters=[s.ConsistencyProofQuery],
        responses={200: s.ConsistencyProofSerializer, **_errors(400, 404, 429, 503)},
        auth=[],
    )
    async def get(self, request: Request) -> Response:
        await self.limit(request)
        params = request.query_params
        return Response(await services.consistency_proof(params.get("first"), params.get("second")))
