"""Server-Sent Events stream of one thread (a plain async Django view, not in the OpenAPI document:
``text/event-stream`` is not something a JSON fuzzer can check; docs/chat.md describes it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from apps.chat import services
from apps.chat.presenters import Envelope
from apps.chat.serializers import StreamQuery
from apps.chat.streams import StreamSession
from apps.core.api import as_app_error, error_response, validated
from apps.core.errors import AppError, Unauthorized
from apps.core.views import allow_methods


def _after_seq(request: HttpRequest) -> int | None:
    query = request.GET.dict()
    if "after_seq" not in query and request.headers.get("Last-Event-ID"):
        query["after_seq"] = request.headers["Last-Event-ID"]
    return validated(StreamQuery, query).get("after_seq")


def frame(envelope: Envelope, event_id: int) -> str:
    return f"event: {envelope['event_type']}\nid: {event_id}\ndata: {envelope.text()}\n\n"


@allow_methods("GET")
async def stream(request: HttpRequest, thread_id: str) -> HttpResponse:
    """Connect sequence: authenticate → check membership → subscribe → backlog → live (streams.py)."""
    try:
        if request.principal is None:
            raise Unauthorized(request.auth_error or "authentication required")
        after_seq = _after_seq(request)
        await services.access(request.principal, thread_id)
    except AppError as exc:
        return error_response(exc)
    except Exception as exc:
        return error_response(as_app_error(exc))
    session = StreamSession(request.principal, thread_id, after_seq=after_seq, transport="sse")

    async def body() -> AsyncIterator[str]:
        yield ": connected\n\n"  # flushes the headers at once
        async for envelope in session.events():
            event_id = envelope["seq"] if envelope["event_type"] == "message" else session.last_sent
            yield frame(envelope, event_id)

    response = StreamingHttpResponse(body(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@allow_methods("GET")
async def websocket_only(request: HttpRequest, thread_id: str) -> JsonResponse:
    """A plain GET of the WebSocket path: tell the client to upgrade."""
    response = JsonResponse(
        {"error": {"code": "validation_error", "message": "validation failed: WebSocket upgrade required"}},
        status=426,
    )
    response["Upgrade"] = "websocket"
    return response
