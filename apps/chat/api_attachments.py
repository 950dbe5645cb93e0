"""Endpoints 19-20: multipart attachment upload and the signed, unauthenticated download."""

from __future__ import annotations

import asyncio
from typing import Any

from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.chat import attachments as att
from apps.chat import serializers as s
from apps.chat import uploads
from apps.chat.api import ChatView, _errors
from apps.core.api import validated
from apps.core.api_view import APIView
from apps.core.errors import PayloadTooLarge
from apps.core.storage import get_storage


def _parse(request: Request) -> Any:
    """Parse the multipart body (blocking file I/O: run in a worker thread) unless CSRF already did."""
    return request.data, request.FILES


class AttachmentUploadView(ChatView):
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: Any, *args: Any, **kwargs: Any) -> Request:
        """Install the capped handler first: a cookie request's CSRF check parses the body before the view."""
        self.upload_handler = att.CappedUploadHandler(request)
        request.upload_handlers = [self.upload_handler]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="chat_attachment_upload",
        request={"multipart/form-data": s.AttachmentFileSerializer},
        responses={201: s.AttachmentUploadSerializer, **_errors(400, 401, 403, 413, 415, 429)},
    )
    async def post(self, request: Request) -> Response:
        _, files = await asyncio.to_thread(_parse, request)
        if self.upload_handler.too_large:
            raise PayloadTooLarge(att.MAX_BYTES)
        upload = validated(s.AttachmentFileSerializer, files)["file"]
        try:
            view = await uploads.upload(
                request.user, upload.file, file_name=upload.name, declared_type=upload.content_type
            )
        finally:
            await asyncio.to_thread(upload.close)
        return Response(view, status=201)


ATTACHMENT_ID = OpenApiParameter("attachment_id", OpenApiTypes.STR, OpenApiParameter.PATH)


class AttachmentDownloadView(APIView):
    """No authentication: the signature is the authorisation (links work in <img> and for guests)."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="chat_attachment_download",
        parameters=[ATTACHMENT_ID, s.DownloadQuery],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the bytes (local)"),
            307: OpenApiResponse(description="redirect to a 5-minute presigned S3 GET (Location header)"),
            **_errors(400, 403, 404, 429),
        },
    )
    async def get(self, request: Request, attachment_id: str) -> HttpResponse:
        row = await uploads.download_target(
            attachment_id, request.query_params.get("exp", ""), request.query_params.get("sig", "")
        )
        storage = get_storage()
        if storage.backend == "s3":
            url = await asyncio.to_thread(storage.presigned_get, row["object_key"], expires_s=att.S3_GET_TTL_S)
            response = HttpResponse(status=307)
            response["Location"] = url
            return response
        stream = await asyncio.to_thread(storage.open_stream, row["object_key"])
        response = FileResponse(stream, content_type=row["mime_type"])
        response["Content-Disposition"] = f'inline; filename="{row["file_name"]}"'
        response["Cache-Control"] = "private, max-age=300"
        response["X-Content-Type-Options"] = "nosniff"
        return response
