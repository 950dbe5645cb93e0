"""A small black-box client of a running server: JSON over HTTP, WebSocket and SSE streams.

Gates only use the public API, so they run unchanged against a local process or a deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import websockets

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "stream_event.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
PASSWORD = "gate check password 1"
T = "/v1/chat/threads"


class GateFailure(AssertionError):
    """A gate's expectation did not hold (the report shows the message)."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise GateFailure(message)


def check_envelope(envelope: dict[str, Any]) -> dict[str, Any]:
    errors = sorted(VALIDATOR.iter_errors(envelope), key=str)
    expect(not errors, f"envelope does not match stream_event.json: {errors[:1]} in {envelope}")
    return envelope


@dataclass
class User:
    name: str
    user_id: str
    token: str
    email: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Api:
    base_url: str
    http: httpx.AsyncClient = field(init=False)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    signups: int = 0

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=15)

    @property
    def ws_base(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> httpx.Response:
        """One request; 429 and connection errors are retried (same X-Request-ID) for up to 30 s."""
        headers = {**(user.headers if user else {}), **kwargs.pop("headers", {})}
        deadline = time.monotonic() + 30
        while True:
            try:
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            if response.status_code in (429, 502, 503) and time.monotonic() < deadline:
                await asyncio.sleep(min(2.0, float(response.headers.get("Retry-After") or 0.2)))
                continue
            return response

    async def ok(self, method: str, path: str, user: User | None = None, status: int = 200, **kw: Any) -> Any:
        response = await self.call(method, path, user, **kw)
        expect(response.status_code == status, f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    async def signup(self, name: str) -> User:
        self.signups += 1
        username = f"{name}{self.run_id}{self.signups}"
        body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD}
        data = await self.ok("POST", "/v1/auth/signup", json=body, status=201)
        return User(name, data["user_id"], data["access_token"], body["email"])

    async def signin(self, user: User) -> User:
        body = {"email": user.email, "password": PASSWORD}
        data = await self.ok("POST", "/v1/auth/signin", json=body)
        return User(user.name, user.user_id, data["access_token"], user.email)

    async def thread(self, owner: User, privacy: str = "public") -> str:
        body = {"scope_id": f"gates-{self.run_id}", "privacy_level": privacy, "title": "release gates"}
        return (await self.ok("POST", T, owner, json=body, status=201))["thread_id"]

    async def send(self, user: User, tid: str, body: str, attachments: list[str] | None = None) -> dict:
        payload = {"body": body, "attachments": [{"attachment_id": a} for a in attachments or []]}
        headers = {"X-Request-ID": uuid.uuid4().hex}  # reused by every retry: idempotent
        return await self.ok("POST", f"{T}/{tid}/messages/send", user, json=payload, headers=headers, status=201)

    async def messages(self, user: User, tid: str, after_seq: int = 0, path: str = "messages") -> list[dict]:
        out: list[dict] = []
        while True:
            page = await self.ok("GET", f"{T}/{tid}/{path}?after_seq={after_seq}&limit=200", user)
            out += page
            if len(page) < 200:
                return out
            after_seq = page[-1]["seq"]

    async def upload_png(self, user: User) -> dict:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (4, 4), (20, 160, 60)).save(buffer, "PNG")
        files = {"file": ("gate.png", buffer.getvalue(), "image/png")}
        return await self.ok("POST", "/v1/chat/attachments/upload", user, files=files, status=201)


class WsReader:
    """A WebSocket reader that keeps every envelope (schema-checked) and the server's close code."""

    def __init__(self, api: Api, user: User, tid: str, after_seq: int | None = 0) -> None:
        query = "" if after_seq is None else f"?after_seq={after_seq}"
        self.url = f"{api.ws_base}{T}/{tid}/messages/ws{query}"
        self.headers = user.headers
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.closed_at: float | None = None
        self.task: asyncio.Task[None] | None = None
        self.ws: Any = None

    async def start(self) -> WsReader:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, open_timeout=10)
        self.task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        try:
            async for frame in self.ws:
                self.events.append(check_envelope(json.loads(frame)))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed_at = time.monotonic()
            self.close_code = self.ws.close_code

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event_type"] == "message"]

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.messages]

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 5)


class SseReader:
    """An SSE reader: parses ``event:``/``id:``/``data:`` blocks; keeps envelopes and ids."""

    def __init__(self, api: Api, user: User, tid: str, after_seq: int = 0) -> None:
        self.api, self.user, self.tid, self.after_seq = api, user, tid, after_seq
        self.events: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.status: int | None = None
        self.ended_at: float | None = None
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> SseReader:
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 10)
        return self

    async def _run(self) -> None:
        path = f"{T}/{self.tid}/messages/stream?after_seq={self.after_seq}"
        try:
            async with self.api.http.stream("GET", path, headers=self.user.headers, timeout=None) as response:
                self.status = response.status_code
                self.ready.set()
                block: dict[str, str] = {}
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        continue
                    if not line:
                        if "data" in block:
                            envelope = check_envelope(json.loads(block["data"]))
                            expect(block.get("event") == envelope["event_type"], f"SSE event: != type: {block}")
                            self.events.append(envelope)
                            self.ids.append(block.get("id", ""))
                        block = {}
                        continue
                    key, _, value = line.partition(": ")
                    block[key] = value
        except httpx.HTTPError:
            pass
        finally:
            self.ended_at = time.monotonic()
            self.ready.set()

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events if e["event_type"] == "message"]

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


async def wait_for(predicate: Any, what: str, timeout: float = 10.0) -> float:
    """Poll ``predicate`` every 10 ms; the seconds it took, or ``GateFailure`` after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise GateFailure(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started
