"""The embedded default: ``manage.py serve`` runs the delivery loop in-process (no separate worker)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest

from tests.webhooks.conftest import SECRET
from tests.webhooks.receiver import ScriptedReceiver


def _post(url: str, body: dict, headers: dict[str, str]) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
async def test_serve_delivers_an_event_written_by_a_request(live_server_factory):
    receiver = await ScriptedReceiver().start()
    try:
        server = await asyncio.to_thread(
            live_server_factory, WEBHOOK_MARKOV_URL=receiver.url, GOTONG_ROYONG_WEBHOOK_SECRET=SECRET
        )
        signup = {"email": "e2e@example.com", "username": "e2e_user", "password": "correct horse battery"}
        token = (await asyncio.to_thread(_post, f"{server.url}/v1/auth/signup", signup, {}))["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "e2e-request-1", "X-Correlation-ID": "e2e-c"}
        body = {"title": "Fixed the well", "contribution_type": "custom"}
        await asyncio.to_thread(_post, f"{server.url}/v1/contributions", body, headers)
        deadline = time.monotonic() + 10
        while not _of_type(receiver.requests, "contribution_created") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        # The append's signed checkpoint is delivered too (transparency_checkpoint), in either order.
        requests = _of_type(receiver.requests, "contribution_created")
        assert requests, server.log()[-2000:]
        request = requests[0]
        payload = json.loads(request.body)
        assert request.headers["x-request-id"] == payload["request_id"] == "e2e-request-1"
        assert request.headers["x-correlation-id"] == "e2e-c"
    finally:
        await receiver.close()


def _of_type(requests: list, event_type: str) -> list:
    return [r for r in requests if json.loads(r.body).get("event_type") == event_type]
