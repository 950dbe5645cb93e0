"""A lean HTTP/1.1 keep-alive client for the send benchmarks: the load generator must not be the bottleneck.

Why (issue 14 point 3/5b): on a 2-core machine the sender shares the cores with the server. httpx spends about a
millisecond of CPU per request (its pool, its models, h11), so a closed loop at 200+ sends/s took most of a core
that the server could otherwise have used, and the "send ceiling" measured the client as much as the server.
This client writes the request bytes on persistent connections and reads back only the status line, the body's
framing (``Content-Length`` or chunked) and the body. It understands exactly what the benchmark needs and refuses
anything else (another transfer coding, a malformed status line) with an error the benchmark counts; it is not
a general client.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit


class RawHTTPError(Exception):
    """The connection broke or the server answered something this client does not parse."""


class _ServerClosedIdle(RawHTTPError):
    """The connection ended before a single byte of the answer: the server had closed it."""


class KeepAlivePool:
    """Up to ``size`` persistent connections to one ``http://host:port``; one request at a time on each."""

    def __init__(self, base: str, size: int, timeout: float = 30) -> None:
        parts = urlsplit(base)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"an http://host:port base is needed, not {base!r}")
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self._host_header = f"{parts.hostname}:{parts.port}"
        self._idle: asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(size)
        self._open: set[asyncio.StreamWriter] = set()

    async def post_json(self, path: str, payload: object, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``payload`` as JSON; (status, body). A broken or unparsable exchange raises ``RawHTTPError``."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        head = [f"POST {path} HTTP/1.1", f"Host: {self._host_header}", "Content-Type: application/json",
                f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in headers.items())]  # fmt: skip
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        async with self._slots:
            reused = not self._idle.empty()
            try:
                return await self._send(request)
            except _ServerClosedIdle:
                if not reused:
                    raise RawHTTPError("the server closed a fresh connection without answering") from None
                # The server let an idle keep-alive connection go (uvicorn: after 5 s) just before we wrote on it;
                # it read nothing, so the request is sent again on a new connection, as HTTP clients do.
                return await self._send(request, fresh=True)

    async def _send(self, request: bytes, *, fresh: bool = False) -> tuple[int, bytes]:
        reader, writer = await self._connection(fresh=fresh)
        try:
            status, answer, keep = await asyncio.wait_for(self._exchange(reader, writer, request), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self._discard(writer)
            raise RawHTTPError(repr(exc)) from exc
        except RawHTTPError:
            self._discard(writer)
            raise
        if keep:
            self._idle.put_nowait((reader, writer))
        else:
            self._discard(writer)
        return status, answer

    async def close(self) -> None:
        for writer in list(self._open):
            self._discard(writer)

    async def _connection(self, *, fresh: bool = False) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not fresh and not self._idle.empty():
            return self._idle.get_nowait()
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise RawHTTPError(repr(exc)) from exc
        self._open.add(writer)
        return reader, writer

    def _discard(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    @staticmethod
    async def _exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes, bool]:
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
            if isinstance(exc, ConnectionResetError) or exc.partial == b"":
                # Not one byte of an answer: the server had closed the connection. Once any byte has come, the
                # request may have been handled, and sending it again could duplicate it: that is an error.
                raise _ServerClosedIdle from exc
            raise
        status_line, *header_lines = head[:-4].split(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise RawHTTPError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(rest[:3])
        length, chunked, keep = None, False, version == b"HTTP/1.1"
        for line in header_lines:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                if value != b"chunked":
                    raise RawHTTPError(f"unsupported transfer-encoding {value!r}")
                chunked = True
            elif name == b"connection" and value == b"close":
                keep = False
        if chunked:
            return status, await _read_chunked(reader), keep
        if length is None:
            raise RawHTTPError("an answer with neither Content-Length nor chunked encoding")
        return status, await reader.readexactly(length), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """The body of a chunked answer (RFC 9112 section 7.1), chunk extensions and trailers ignored."""
    parts = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, then the empty line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise RawHTTPError("a chunk not followed by CRLF")
