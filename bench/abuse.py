"""Target ``abuse`` of bench/chat_bench.py: bad input at scale (issue 14), while healthy clients use the thread.

What happens, on one ``manage.py serve`` (seeded with ``--idle`` accounts, each a member of an idle thread):

* **Sockets that vanish without a close.** ``--idle`` sockets (5,000; each its own account), plus one socket
  on every active thread, connect; then their client processes are frozen with SIGSTOP: from then on they
  neither read nor answer pings nor close (the TCP connections stay up, as after a network cut that sends
  no reset). The active-thread ones are also **clients that never read**: every message is fanned out to
  them. The server must drop them by its ping deadline and keep its memory bounded meanwhile.
* **A flood of frames from one socket**: a member of an active thread sends typing frames as fast as it
  can and reconnects whenever it is closed, for the whole run.
* **Healthy clients**: target 2's load (200 sockets over 20 threads, ``--rate`` msg/s) for ``ABUSE_SECONDS``,
  long enough for the ping deadline (uvicorn: 20 s + 20 s) to pass inside it.

First the same healthy load runs alone (``--duration`` s) as the baseline. Printed: the healthy clients' ACK
and delivery percentiles and lost / duplicated / out-of-order frames, alone and under abuse, the server's RSS
and open streams (``gotong_realtime_connections``) every few seconds, the flooder's frames and close codes,
and a verdict: healthy delivery p95 <= 100 ms with 0 lost under abuse, every frozen socket dropped by the end,
and RSS growth per healthy message under abuse at most 1.5 times the baseline's (the ``mem://`` database grows
with every message, so absolute RSS would rise anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import signal
import threading
import time
from typing import Any

import httpx
from stats import load, rss_kib  # bench/ is on sys.path (the script's own folder)

ABUSE_SECONDS = 75.0  # the healthy load's length: past the ping deadline (40 s) with room to see the drop
SAMPLE_EVERY_S = 5.0
MEMORY_SLACK = 1.5  # RSS growth per healthy message under abuse, against the baseline's: at most this factor
OPEN_STREAMS = re.compile(r'^gotong_realtime_connections\{transport="websocket"\} ([0-9.e+]+)$', re.M)


def open_streams(base: str) -> int | None:
    try:
        match = OPEN_STREAMS.search(httpx.get(f"{base}/metrics", timeout=5).text)
    except httpx.HTTPError:
        return None
    return int(float(match.group(1))) if match else None


class Sampler(threading.Thread):
    """RSS and open streams of the server every ``SAMPLE_EVERY_S`` until stopped."""

    def __init__(self, pid: int, base: str, t0: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.base, self.t0 = pid, base, t0
        self.samples: list[dict[str, Any]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append({"t_s": round(time.monotonic() - self.t0, 1), "rss_kib": rss_kib(self.pid),
                                 "open_streams": open_streams(self.base)})  # fmt: skip
            self.done.wait(SAMPLE_EVERY_S)


def _flood_proc(ws_base: str, thread_id: str, token: str, seconds: float, out) -> None:
    asyncio.run(_flood(ws_base, thread_id, token, seconds, out))


async def _flood(ws_base: str, thread_id: str, token: str, seconds: float, out) -> None:
    """Typing frames as fast as the socket takes them; reconnect when closed; count frames and close codes."""
    import websockets

    url = f"{ws_base}/v1/chat/threads/{thread_id}/messages/ws"
    frame = json.dumps({"type": "typing"})
    sent, closes, errors = 0, {}, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                while time.monotonic() < deadline:
                    await ws.send(frame)
                    sent += 1
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            closes[str(code)] = closes.get(str(code), 0) + 1
        except OSError:
            errors += 1
            await asyncio.sleep(0.2)
    out.put({"frames_sent": sent, "closes": closes, "connect_errors": errors})


def target(cb: Any, args: argparse.Namespace) -> dict:
    """``cb`` is the running chat_bench module (see bench/fanout_ceiling.py ``target``)."""
    proc, port, info = cb.start_users_server("serve-abuse", args.idle, cb.THREADS)
    try:
        return _run(cb, args, proc, port, info["watchers"])
    finally:
        cb.PROCS.stop(proc)


def _run(cb: Any, args: argparse.Namespace, proc: Any, port: int, watchers: list[dict]) -> dict:
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    users = asyncio.run(cb.make_users(base, cb.USERS))
    # Baseline: the same healthy load without abuse. The mem:// database grows with every message, so memory
    # is judged as RSS growth per healthy message, with and without the abuse, in the same server. Threads
    # of their own: a later socket on them would get the baseline's messages as backlog.
    alone = asyncio.run(cb.make_threads(base, users, cb.THREADS, cb.PER_THREAD))
    rss_before_baseline = rss_kib(proc.pid)
    baseline = cb.run_load("app", base, ws_base, alone, rate=args.rate, duration=args.duration, server_pid=proc.pid)
    cb.print_load("abuse: baseline, healthy clients alone", baseline)
    rss_empty = rss_kib(proc.pid)
    plans = asyncio.run(cb.make_threads(base, users, cb.THREADS, cb.PER_THREAD))
    # Frozen: every watcher on its idle thread, plus one never-reading member socket on each active thread.
    frozen = [(w["thread_id"], w["token"]) for w in watchers[: args.idle]]
    frozen += [(p["thread_id"], p["sockets"][0]) for p in plans]
    holders = cb.IdleClients(ws_base, frozen)
    connected = holders.connected
    time.sleep(2)
    rss_connected, streams_connected = rss_kib(proc.pid), open_streams(base)
    for holder in holders.processes:
        os.kill(holder.pid, signal.SIGSTOP)
    print(f"  [abuse] {connected}/{len(frozen)} sockets connected then frozen (SIGSTOP: no reads, no pongs, "
          f"no close); server RSS {rss_empty} -> {rss_connected} KiB, open streams {streams_connected}",
          flush=True)  # fmt: skip
    ctx = mp.get_context("spawn")
    flood_out = ctx.Queue()
    flooder = ctx.Process(target=_flood_proc, args=(ws_base, plans[0]["thread_id"], plans[0]["sender"],
                                                    ABUSE_SECONDS, flood_out))  # fmt: skip
    t0 = time.monotonic()
    sampler = Sampler(proc.pid, base, t0)
    sampler.start()
    flooder.start()
    try:
        healthy = cb.run_load("app", base, ws_base, plans, rate=args.rate, duration=ABUSE_SECONDS,
                              server_pid=proc.pid)  # fmt: skip
        flood = flood_out.get(timeout=120)
    finally:
        sampler.done.set()
        sampler.join(10)
        for holder in holders.processes:
            holder.kill()
        flooder.join(30)
    cb.print_load("abuse: healthy clients", healthy)
    samples = sampler.samples
    base_growth = (rss_empty - rss_before_baseline) / max(1, baseline["acked"])
    abuse_growth = ((samples[-1]["rss_kib"] if samples else rss_connected) - rss_connected) / max(1, healthy["acked"])
    result = {
        "baseline": baseline,
        "rss_growth_kib_per_msg_baseline": round(base_growth, 2),
        "rss_growth_kib_per_msg_abuse": round(abuse_growth, 2),
        "frozen_sockets": connected,
        "rss_empty_kib": rss_empty,
        "rss_connected_kib": rss_connected,
        "rss_peak_kib": max((s["rss_kib"] for s in samples), default=None),
        "rss_end_kib": samples[-1]["rss_kib"] if samples else None,
        "open_streams_connected": streams_connected,
        "open_streams_end": samples[-1]["open_streams"] if samples else None,
        "samples": samples,
        "flood": flood,
        "healthy": healthy,
        "load_after": load(),
    }
    print_table(result)
    return result


def verdict_ok(r: dict) -> bool:
    healthy = r["healthy"]
    return bool(
        healthy["delivery_ms"]["p95"] is not None
        and healthy["delivery_ms"]["p95"] <= 100
        and healthy["lost"] == 0
        and healthy["duplicated"] == 0
        and r["open_streams_end"] is not None
        and r["open_streams_end"] <= healthy["connected"] + 2  # the flooder's socket may be between reconnects
        and r["rss_growth_kib_per_msg_abuse"] <= MEMORY_SLACK * max(r["rss_growth_kib_per_msg_baseline"], 1.0)
    )


def print_table(r: dict) -> None:
    print("    t s   server RSS KiB   open streams", flush=True)
    for s in r["samples"]:
        print(f"    {s['t_s']:>5}   {s['rss_kib']:>14}   {s['open_streams']}")
    f = r["flood"]
    print(f"    flooder: {f['frames_sent']} frames sent, closes by code {f['closes']}, connect errors "
          f"{f['connect_errors']}", flush=True)  # fmt: skip


def verdict_rows(res: dict) -> list[tuple[str, str, str, str]]:
    if "abuse" not in res or "healthy" not in res["abuse"]:
        return []
    r = res["abuse"]
    h = r["healthy"]
    text = (f"healthy delivery p95 {h['delivery_ms']['p95']} ms (alone {r['baseline']['delivery_ms']['p95']}), "
            f"lost {h['lost']} dup {h['duplicated']}; {r['frozen_sockets']} frozen sockets, open streams "
            f"{r['open_streams_connected']} -> {r['open_streams_end']}; RSS growth per healthy message "
            f"{r['rss_growth_kib_per_msg_abuse']} KiB (alone {r['rss_growth_kib_per_msg_baseline']}); "
            f"flooder closes {r['flood']['closes']}")  # fmt: skip
    goal = "healthy p95 <=100 ms, 0 lost; frozen dropped; RSS/msg as alone"
    return [("abuse at scale", text, goal, "PASS" if verdict_ok(r) else "FAIL")]
