"""Helpers for stream tests: the JSON Schema of stream events and a collector with deadlines."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import jsonschema

from apps.chat.streams import StreamSession

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "apps/chat/schemas/stream_event.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def check(envelope: dict[str, Any]) -> dict[str, Any]:
    VALIDATOR.validate(envelope)
    return envelope


class Collector:
    """Drains ``session.events()`` in a task; tests wait on conditions with a deadline."""

    def __init__(self, session: StreamSession, delay_s: float = 0.0) -> None:
        self.session = session
        self.delay_s = delay_s
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for envelope in self.session.events():
            self.events.append(check(envelope))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events if e["event_type"] == "message"]

    async def wait(self, predicate, timeout: float = 5.0) -> float:
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"condition not met in {timeout} s; events: {self.events[-5:]}")
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    async def stop(self) -> None:
        self.session.close("client_closed")
        try:
            await asyncio.wait_for(self.task, 5)
        except Exception:
            self.task.cancel()
