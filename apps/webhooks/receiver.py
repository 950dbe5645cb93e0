"""The development receiver of the reputation engine's webhook endpoint (``manage.py markov_receiver``).

Verifies ``X-GR-Signature`` in constant time (401 otherwise), dedupes by
``event_id``, can fail a share of requests on purpose (``fail_rate`` with
``fail_status``) and answers ``{processed, results}``. It counts what it saw,
so the benchmark can check delivery (``GET /stats``). ``transparency_checkpoint`` events go to its
checkpoint witness (``apps/webhooks/witness.py``), as they would at the reputation engine.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from dataclasses import dataclass, field

from apps.webhooks import httpserver, signing
from apps.webhooks.httpserver import Request, Response
from apps.webhooks.witness import EVENT_TYPE as CHECKPOINT_EVENT
from apps.webhooks.witness import CheckpointWitness

log = logging.getLogger("gotong.markov_receiver")


@dataclass
class MarkovReceiver:
    secret: str
    fail_rate: float = 0.0
    fail_status: int = 503
    seed: int | None = None
    seen: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    bad_signatures: int = 0
    requests: int = 0
    witness: CheckpointWitness = field(default_factory=CheckpointWitness)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def stats(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "unique_events": len(self.seen),
            "accepted_deliveries": sum(self.seen.values()),
            "duplicates": sum(n - 1 for n in self.seen.values()),
            "failed_on_purpose": self.failed,
            "bad_signatures": self.bad_signatures,
            **self.witness.stats(),
        }

    async def handle(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/stats":
            return Response(200, json.dumps(self.stats()).encode())
        if request.method == "GET" and request.path == "/health":
            return Response(200, b'{"status":"ok"}')
        if request.method != "POST":
            return Response(404, b'{"error":"not found"}')
        self.requests += 1
        if not signing.verify_gr_signature(self.secret, request.body, request.headers.get("x-gr-signature")):
            self.bad_signatures += 1
            log.warning("rejected: bad signature")
            return Response(401, b'{"error":"invalid signature"}')
        if self.fail_rate and self._rng.random() < self.fail_rate:
            self.failed += 1
            return Response(self.fail_status, b'{"error":"failing on purpose"}')
        try:
            payload = json.loads(request.body)
            event_id = str(payload["event_id"])
        except (ValueError, KeyError, TypeError):
            return Response(400, b'{"error":"invalid payload"}')
        duplicate = event_id in self.seen
        self.seen[event_id] += 1
        result = {"event_id": event_id, "status": "duplicate" if duplicate else "processed"}
        if payload.get("event_type") == CHECKPOINT_EVENT and not duplicate:
            result["witness"] = await self.witness.observe(payload.get("subject"))
        log.info("webhook %s %s %s", event_id, payload.get("event_type"), result["status"])
        body = {"processed": 0 if duplicate else 1, "results": [result]}
        return Response(200, json.dumps(body).encode())


async def start(receiver: MarkovReceiver, host: str, port: int):
    return await httpserver.serve(receiver.handle, host, port, max_body=4 << 20)
