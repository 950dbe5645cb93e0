"""The Python ceiling of targets 7 and 5a: a bare ``websockets`` broadcast server (no Django, no database).

``/sub/<topic>`` subscribes; ``/pub`` takes ``{"topic", "body", "i"}`` frames, numbers them per topic
(``seq``) and broadcasts a frame shaped like the product's ``message`` event, then acks ``{"i", "seq"}``.

Like for like with ``manage.py serve`` (issue 14 point 5):

* no permessage-deflate (``compression=None``): daphne does not negotiate it, and compressing every frame
  per socket is work our server does not do. The benchmark reads the handshake answer to check it;
* the ack waits until no subscriber's write buffer is above its high-water mark (``drain`` of the paused
  ones only, so the common case costs nothing): ``websockets.broadcast`` has no backpressure, and a closed
  loop of senders would otherwise pile frames up in memory without bound instead of measuring delivery.
  Our server bounds its per-socket queues too (apps/chat/streams.py ``QUEUE_MAX``).

    python bench/bare_ws_server.py PORT
"""

import asyncio
import json
import sys
import time

import websockets

subscribers: dict[str, set] = {}
seqs: dict[str, int] = {}


async def drained(conns: list) -> None:
    """Wait until every connection whose transport paused writing (buffer above the high-water mark) resumed."""
    waiting = [ws.drain() for ws in conns if getattr(ws, "paused", False)]
    if waiting:
        await asyncio.gather(*waiting, return_exceptions=True)


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
        subs = list(subscribers.get(topic, ()))
        websockets.broadcast(subs, frame)
        await drained(subs)
        await ws.send(json.dumps({"i": data["i"], "seq": seq}))


async def main(port: int) -> None:
    async with websockets.serve(handler, "127.0.0.1", port, max_queue=None, compression=None):
        await asyncio.sleep(3600)  # bounded: the benchmark terminates it long before


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
