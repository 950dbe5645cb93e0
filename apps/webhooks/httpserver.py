"""A minimal asyncio HTTP/1.1 server for the worker's /metrics and /health and the dev receiver.

Why not aiohttp/daphne: neither is a runtime dependency of the worker, and both
endpoints need only "read one request, answer it" with keep-alive (the worker's
pooled client reuses connections, which matters for the benchmark). Bodies are
bounded (``max_body``) so a client cannot make the process buffer gigabytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 413: "Payload Too Large"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


async def _read_request(reader: asyncio.StreamReader, max_body: int) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > max_body:
        raise ValueError("body too large")
    body = await reader.readexactly(length) if length else b""
    return Request(parts[0].upper(), parts[1], headers, body)


def _encode(response: Response, keep_alive: bool) -> bytes:
    reason = REASONS.get(response.status, "Status")
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
    ]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


async def serve(handler: Handler, host: str, port: int, *, max_body: int = 1 << 20) -> asyncio.Server:
    """Start serving ``handler`` on ``host:port`` (port 0 picks a free one); returns the server."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    request = await _read_request(reader, max_body)
                except ValueError:
                    writer.write(_encode(Response(413, b'{"error":"body too large"}'), False))
                    break
                if request is None:
                    break
                try:
                    response = await handler(request)
                except Exception:
                    log.exception("http handler failed")
                    response = Response(500, b'{"error":"internal"}')
                keep_alive = request.headers.get("connection", "").lower() != "close"
                writer.write(_encode(response, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    return await asyncio.start_server(on_connection, host, port, limit=64 * 1024)
