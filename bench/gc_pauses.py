"""GC pauses of a long-lived server holding thousands of idle sockets (issue 14, point 2): which settings to ship.

Not a test: a measurement run by hand, no server and no database. Each scenario runs in a fresh interpreter:

1. start-up: Django and the project's URL conf, consumers and daphne are imported (about 165,000 objects,
   what the server holds before its first request; ``--bare`` skips this), then the scenario's gc settings
   are applied with ``apps.core.gc_tuning.apply`` (collect, freeze, thresholds);
2. ramp: ``--sockets`` socket-like object graphs are opened in batches, each a protocol, a transport, a scope
   with headers, a consumer whose task waits on its queue, and the small internals a WebSocket library keeps
   (about 400 container objects a socket, printed as ``objs/socket``); the protocol, transport and consumer
   point at each other, as daphne's and Channels' do, so a closed socket is cyclic garbage;
3. steady: ``--seconds`` of ``--rate`` sends a second, each a request-like graph with cycles that stays alive
   across three awaits (database round trips) and an idempotency record kept 30 s, its event fanned out to
   ``--fanout`` random sockets whose consumers build a view and a JSON frame; ``--churn`` sockets a second
   close and are replaced by new ones.

Every collection is timed through ``gc.callbacks``. The table shows, per scenario:

- ``ramp``/``steady``: full collections in each phase, their CPU time (this thread's CPU time, in ms: on a
  shared machine a pause's wall time also counts waiting for a core), young and middle collections
  (``young+mid``), and ``all GC``: every collection's CPU time in the steady phase;
- ``delivery``: wall ms from the moment a send was due (as an outside client keeps sending during a pause)
  to its frame built by a consumer, including the three simulated 2 ms database awaits; ``loop stall max``:
  the event loop's longest stall (a 5 ms sleep woken late);
- ``closed, uncollected``: closed sockets whose graphs still wait for a collection at the end (memory held
  by garbage); ``leaked``: those still alive after a final ``gc.collect()`` (frozen cyclic garbage).

    python bench/gc_pauses.py [--sockets 5000] [--seconds 30] [--scenario default --scenario freeze ...]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import load, pct, rss_kib  # noqa: E402

ROWS_PER_REQUEST = 600  # about 1,300 container objects alive per send while it awaits the database

SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {"freeze": False, "thresholds": None, "refreeze": False},
    "freeze": {"freeze": True, "thresholds": None, "refreeze": False},
    "freeze+refreeze": {"freeze": True, "thresholds": None, "refreeze": True},
}
for _tuned in ((20_000, 10, 10), (20_000, 10, 25), (50_000, 20, 100)):
    SCENARIOS["freeze+" + ",".join(map(str, _tuned))] = {"freeze": True, "thresholds": _tuned, "refreeze": False}


class Recorder:
    """Collections as (phase, generation, wall seconds, CPU seconds of this thread).

    The table shows CPU time: on a shared machine the wall time of a pause also counts the time the
    process waited for a core, which says more about the neighbours than about the collector.
    """

    def __init__(self) -> None:
        self.phase = "startup"
        self.events: list[tuple[str, int, float, float]] = []
        self.started = (0.0, 0.0)
        self.full_done = False

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = (time.perf_counter(), time.thread_time())
            return
        wall, cpu = time.perf_counter() - self.started[0], time.thread_time() - self.started[1]
        self.events.append((self.phase, info["generation"], wall, cpu))
        if info["generation"] == 2:
            self.full_done = True


class Node:
    """A small object with a ``__dict__``, like most of a protocol's helpers."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class Transport(Node):
    pass


class Protocol(Node):
    def send(self, frame: str) -> None:
        self.transport.written += len(frame)


class Consumer(Node):
    """Counts its own instances, so graphs that outlive their socket are visible at the end."""

    alive = 0

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        Consumer.alive += 1

    def __del__(self) -> None:
        Consumer.alive -= 1

    async def run(self, latencies: list[float]) -> None:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            view = {"id": event["id"], "seq": event["seq"], "body": event["body"], "viewer": self.user["id"],
                    "author": {"id": event["author"], "name": event["author_name"]}, "reactions": []}  # fmt: skip
            await asyncio.sleep(0)  # the per-socket view query: the view is alive across it
            self.send(json.dumps({"type": "message.created", "data": view}))
            self.last_seq = event["seq"]
            latencies.append(time.perf_counter() - event["t"])


def open_socket(n: int, latencies: list[float]) -> Consumer:
    """One WebSocket as the server holds it: about 400 container objects, cyclic."""
    headers = [(f"x-header-{i}".encode(), f"value-{n}-{i}".encode()) for i in range(14)]
    scope = {"type": "websocket", "path": f"/v1/chat/threads/t{n % 20}/messages/ws", "headers": headers,
             "query_string": b"", "client": ["127.0.0.1", 40000 + n % 20000], "server": ["127.0.0.1", 8000],
             "subprotocols": [], "url_route": {"args": (), "kwargs": {"thread_id": f"t{n % 20}"}},
             "cookies": {"gr_session": f"token-{n}"}, "extensions": {"websocket.http.response": {}}}  # fmt: skip
    transport = Transport(written=0, buffer=[], extra={"peername": ("127.0.0.1", n), "sockname": ("127.0.0.1", 8000)})
    protocol = Protocol(transport=transport, scope=scope, state={"open": True, "ping": None}, pending=[])
    protocol.internals = [Node(key=i, values=[i, n], flags={"a": i}) for i in range(110)]  # autobahn's state
    transport.protocol = protocol
    user = {"id": f"user:{n}", "roles": ["member"], "claims": {"sub": f"user:{n}", "scope": ["chat"]}}
    consumer = Consumer(scope=scope, protocol=protocol, user=user, queue=asyncio.Queue(), groups=[f"t{n % 20}"],
                        last_seq=0)  # fmt: skip
    consumer.send = protocol.send
    protocol.consumer = consumer
    consumer.task = asyncio.get_running_loop().create_task(consumer.run(latencies))
    return consumer


def close_socket(consumer: Consumer) -> None:
    consumer.queue.put_nowait(None)


def request_graph(i: int) -> Node:
    """What one send holds while it runs: request, resolver match, response, middleware closures; cyclic."""
    meta = {f"HTTP_X_{k}": f"v{i}-{k}" for k in range(30)}
    request = Node(META=meta, headers=dict(meta), data={"body": f"message {i}", "client_id": f"c{i}"})
    request.resolver_match = Node(kwargs={"thread_id": f"t{i % 20}"}, request=request, route=["v1", "chat"])
    request.chain = [lambda r, k=k: (r, k) for k in range(12)]
    request.principal = Node(user_id=f"user:{i}", roles=["member"], request=request)
    request.rows = [{"id": f"m{i}-{k}", "seq": k, "fields": [k, i]} for k in range(ROWS_PER_REQUEST)]
    return request


async def send_one(i: int, due: float, sockets: list[Consumer], fanout: int, idem: dict[int, Any]) -> None:
    """One send that was due at ``due``: latency counts from then, as a client's would (the client keeps
    sending while the loop is stalled, so a pause delays sends too, not only the frames already queued)."""
    request = request_graph(i)
    for _ in range(3):  # database round trips: the request survives young collections meanwhile
        await asyncio.sleep(0.002)
    event = {"id": f"m{i}", "seq": i, "body": request.data["body"], "author": f"user:{i}", "author_name": "n",
             "t": due}  # fmt: skip
    idem[i] = {"status": 201, "body": dict(event), "headers": [("content-type", "application/json")]}
    for consumer in random.sample(sockets, fanout):
        consumer.queue.put_nowait(event)
    request.response = Node(request=request, content=json.dumps(event))


async def ticker(stalls: list[float], recorder: Recorder, refreeze: bool, stop: asyncio.Event) -> None:
    """The event loop's stalls (how late a 5 ms sleep wakes); the ``refreeze`` scenario freezes here."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        stalls.append(time.perf_counter() - before - 0.005)
        if refreeze and recorder.full_done:
            recorder.full_done = False
            gc.freeze()


async def ramp(count: int, latencies: list[float]) -> list[Consumer]:
    sockets: list[Consumer] = []
    for n in range(count):
        sockets.append(open_socket(n, latencies))
        if n % 50 == 49:
            await asyncio.sleep(0)
    return sockets


async def steady(args: argparse.Namespace, sockets: list[Consumer], latencies: list[float]) -> None:
    idem: dict[int, Any] = {}
    started = time.perf_counter()
    sent = 0
    next_churn = started + 1.0
    opened = len(sockets)
    tasks: set[asyncio.Task] = set()
    while (now := time.perf_counter()) < started + args.seconds:
        due = int((now - started) * args.rate)
        while sent < due:
            task = asyncio.get_running_loop().create_task(
                send_one(sent, started + sent / args.rate, sockets, args.fanout, idem)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            idem.pop(sent - 30 * args.rate, None)
            sent += 1
        if now >= next_churn:
            next_churn += 1.0
            for _ in range(args.churn):
                index = random.randrange(len(sockets))
                close_socket(sockets[index])
                sockets[index] = open_socket(opened, latencies)
                opened += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)


async def run_scenario(args: argparse.Namespace, recorder: Recorder, refreeze: bool) -> dict[str, Any]:
    latencies: list[float] = []
    stalls: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.get_running_loop().create_task(ticker(stalls, recorder, refreeze, stop))
    tracked_before = len(gc.get_objects()) + gc.get_freeze_count()
    recorder.phase = "ramp"
    started = time.perf_counter()
    sockets = await ramp(args.sockets, latencies)
    ramp_seconds = time.perf_counter() - started
    per_socket = (len(gc.get_objects()) + gc.get_freeze_count() - tracked_before) / args.sockets
    recorder.phase = "steady"
    stalls.clear()
    await steady(args, sockets, latencies)
    recorder.phase = "end"
    stop.set()
    await tick
    await asyncio.sleep(0.05)  # closed consumers return
    uncollected = Consumer.alive - len(sockets)  # closed sockets whose graphs wait for a collection
    gc.collect()  # what is still alive now is live or frozen garbage
    return {"ramp_s": round(ramp_seconds, 2), "objs_per_socket": round(per_socket), "latencies": latencies,
            "stalls": stalls, "uncollected_sockets": uncollected, "leaked_sockets": Consumer.alive - len(sockets),
            "open": len(sockets)}  # fmt: skip


def startup_heap() -> None:
    """What the server imports before serving: the settings, every app, the URL conf, consumers, daphne."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    import django

    django.setup()
    import daphne.server  # noqa: F401
    from django.urls import get_resolver

    import apps.chat.consumers  # noqa: F401
    import gotong.urls  # noqa: F401

    get_resolver().url_patterns  # noqa: B018 - builds the resolver like the first request does


def child(args: argparse.Namespace) -> None:
    scenario = SCENARIOS[args.child]
    random.seed(14)
    recorder = Recorder()
    gc.callbacks.append(recorder)
    if not args.bare:
        startup_heap()
    from apps.core.gc_tuning import apply

    if scenario["freeze"] or scenario["thresholds"]:
        apply(freeze=scenario["freeze"], thresholds=scenario["thresholds"])
    result = asyncio.run(run_scenario(args, recorder, scenario["refreeze"]))
    result["events"] = recorder.events
    result["rss_mib"] = rss_kib() // 1024
    result["frozen"] = gc.get_freeze_count()
    print(json.dumps(result))


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def row(name: str, result: dict[str, Any]) -> str:
    def pauses(phase: str, generations: tuple[int, ...]) -> list[float]:
        return [cpu for p, g, _wall, cpu in result["events"] if p == phase and g in generations]

    ramp_full, full = pauses("ramp", (2,)), pauses("steady", (2,))
    young = pauses("steady", (0, 1))
    lat, stalls = result["latencies"], result["stalls"]
    return (
        f"| {name} | {len(ramp_full)} | {ms(sum(ramp_full))} | {ms(max(ramp_full, default=None))} | {len(full)} "
        f"| {ms(pct(full, 50, 6))} | {ms(max(full, default=None))} | {len(young)} | {ms(pct(young, 95, 6))} "
        f"| {ms(max(young, default=None))} | {ms(sum(pauses('steady', (0, 1, 2))))} | {ms(pct(lat, 50, 6))} "
        f"| {ms(pct(lat, 95, 6))} | {ms(max(lat, default=None))} | {ms(max(stalls, default=None))} "
        f"| {result['objs_per_socket']} | {result['rss_mib']} | {result['uncollected_sockets']} "
        f"| {result['leaked_sockets']} |"
    )


HEADER = (
    "| scenario | ramp: full | full total | full max | steady: full | full p50 | full max | young+mid "
    "| young+mid p95 | young+mid max | all GC | delivery p50 | delivery p95 | delivery max | loop stall max "
    "| objs/socket | RSS MiB | closed, uncollected | leaked |\n" + "|---" * 19 + "|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=50, help="sends a second")
    parser.add_argument("--fanout", type=int, default=10, help="sockets each send is delivered to")
    parser.add_argument("--churn", type=int, default=5, help="sockets closed and replaced each second")
    parser.add_argument("--rounds", type=int, default=1, help="each scenario this many times, interleaved")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="default: all")
    parser.add_argument("--bare", action="store_true", help="no Django start-up heap")
    parser.add_argument("--child", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    passed = [f"--{name}={getattr(args, name)}" for name in ("sockets", "seconds", "rate", "fanout", "churn")]
    passed += ["--bare"] if args.bare else []
    print(f"python {sys.version.split()[0]}, {args.sockets} sockets, {args.seconds:g} s at {args.rate} sends/s "
          f"x {args.fanout}, churn {args.churn}/s, load {load()}\n")  # fmt: skip
    print(HEADER, flush=True)
    env = {**os.environ, "APP_ENV": os.environ.get("APP_ENV", "test")}
    for _ in range(args.rounds):
        for name in args.scenario or list(SCENARIOS):
            out = subprocess.run([sys.executable, __file__, *passed, "--child", name], env=env, cwd=ROOT,
                                 capture_output=True, text=True, check=True)  # fmt: skip
            print(row(name, json.loads(out.stdout.strip().splitlines()[-1])), flush=True)
    print(f"\nload average at the end {load()}")


if __name__ == "__main__":
    main()
