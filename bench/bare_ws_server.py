"""The Python ceiling of target 7: a bare ``websockets`` broadcast server (no Django, no database).

``/sub/<topic>`` subscribes; ``/pub`` takes ``{"topic", "body", "i"}`` frames, numbers them per topic
(``seq``) and broadcasts a frame shaped like the product's ``message`` event, then acks ``{"i", "seq"}``.

    python bench/bare_ws_server.py PORT
"""

import asyncio
import json
import sys
import time

import websockets

subscribers: dict[str, set] = {}
seqs: dict[str, int] = {}


async def handler(ws) -> None:
    path = ws.request.path
    if path.startswith("/sub/"):
        topic = path[5:]
        subscribers.setdefault(topic, set()).add(ws)
        try:
            await ws.wait_closed()
        finally:
            subscribers[topic].discard(ws)
        return
    async for raw in ws:  # /pub
        data = json.loads(raw)
        topic = data["topic"]
        seq = seqs[topic] = seqs.get(topic, 0) + 1
        message = {"seq": seq, "body": data["body"], "created_at_ms": int(time.time() * 1000)}
        frame = json.dumps({"event_type": "message", "thread_id": topic, "seq": seq, "message": message, "data": None})
        websockets.broadcast(subscribers.get(topic, ()), frame)
        await ws.send(json.dumps({"i": data["i"], "seq": seq}))


async def main(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, max_queue=None):
        await asyncio.sleep(3600)  # bounded: the benchmark terminates it long before


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
