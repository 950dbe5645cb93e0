"""A scripted HTTP receiver for delivery tests: a real server on a free loopback port.

Each request takes the next ``Action`` from ``script`` (``default`` when the
script is empty), so a test says exactly what the receiver answers. Raw
asyncio, so it can also misbehave: stall, reset mid-response, stream 50 MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field


@dataclass
class Action:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    kind: str = "answer"  # answer | never | reset | big
    big_bytes: int = 0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedReceiver:
    def __init__(self, default: Action | None = None) -> None:
        self.default = default or Action()
        self.script: list[Action] = []
        self.requests: list[Received] = []
        self.bytes_sent = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    async def start(self) -> ScriptedReceiver:
        self.server = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(method, path, headers, body))
                action = self.script.pop(0) if self.script else self.default
                if not await self._act(action, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:  # the test's loop is ending while a request stalls: quietly
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _act(self, action: Action, writer: asyncio.StreamWriter) -> bool:
        if action.delay_s:
            await asyncio.sleep(action.delay_s)
        if action.kind == "never":
            await asyncio.sleep(3600)
        if action.kind == "reset":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
            writer.transport.abort()
            return False
        if action.kind == "big":
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {action.big_bytes}\r\n\r\n".encode())
            chunk = b"y" * (1 << 20)
            try:
                while self.bytes_sent < action.big_bytes:
                    writer.write(chunk)
                    self.bytes_sent += len(chunk)
                    await asyncio.wait_for(writer.drain(), 2)
            except (ConnectionError, TimeoutError):
                pass
            return False
        reason = {200: "OK"}.get(action.status, "X")
        head = [f"HTTP/1.1 {action.status} {reason}", f"Content-Length: {len(action.body)}"]
        head += [f"{k}: {v}" for k, v in action.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + action.body)
        await writer.drain()
        return True
