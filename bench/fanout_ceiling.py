"""Target 5a of bench/chat_bench.py: the fan-out ceiling, ours against a bare ``websockets`` server, like for like.

What is measured: delivered WebSocket frames per second when every send fans out to many sockets. 2,000
sockets (``--fanout-sockets``) watch 4 threads (``--fanout-threads``): each send becomes 500 frames. The same
run measures ``manage.py serve`` and bench/bare_ws_server.py (no Django, no database, one
``websockets.broadcast`` per send: what Python itself can do), one after the other, and prints delivered
frames/s of each, the ratio ours/bare (issue 14 point 5a: goal >= 0.5), each server's CPU, and the lost,
duplicated and out-of-order frames every socket counted (chat_bench's own reader, reused).

Why it is fair (target 7's comparison was not, issue 14):

* **The same shape.** Our server is seeded in its own process (bench/chat_serve_users.py) with 2,000 accounts,
  each signed in and a member of one of the 4 threads, and every socket authenticates as its own account
  (the hub re-validates 2,000 principals, not 20 reused tokens). The bare server gets the same per-thread
  socket counts. Both get the same client code (chat_bench ``_clients``) and the same sender code (here).
* **The same compression.** daphne negotiates no permessage-deflate, so the bare server is started with
  ``compression=None`` and every client connects with ``compression=None``. Not assumed: each client records
  the ``Sec-WebSocket-Extensions`` header of every handshake answer and the table prints it per server.
* **Not client-bound.** The sockets are spread over ``--fanout-clients`` reader processes (default 4); each
  reports its own CPU over the load window (resource usage), and the output warns when any client process
  or the sender used more than 90 % of a core: then the figure is the client's ceiling, not the server's.
* **The fan-out dominates, not the send path.** ``--fanout-senders`` senders (default 4, sender w on thread
  w mod 4) each run a closed loop paced by delivery: send, wait for the ack, then wait until a pacing socket
  in the sender process (one per thread, on both servers; not counted in the frames) has received that seq.
  Pacing on the ack alone would let our server commit sends far faster than it can fan them out (its
  per-socket queues then fall back to catch-up reads) and leave a backlog longer than the run, counted as
  lost; on the bare server it would pile frames up in memory. Delivered frames/s is frames received over
  ``go`` -> the last frame received, so whatever backlog remains is drained inside the figure.
* **The machine is shown.** Server and clients share the machine's cores: each run prints how busy all cores
  were (/proc/stat) and how much of it was this run's own server, clients and sender versus other processes.
  When every core was busy, the figure is the shared machine's, not either server's; compare ratios of
  neighbouring runs (``--repeat``), not absolute frames/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from raw_http import KeepAlivePool  # bench/ is on sys.path (the script's own folder)
from stats import free_port, process_cpu_s, rss_kib

CLIENT_BOUND_PCT = 90.0  # a client process above this share of one core makes the figure client-bound
MACHINE_BOUND_PCT = 90.0  # all cores busier than this (neighbours included): the shared machine was the limit
FIGURES = [
    ("5a ours delivered frames/s", "fanout.ours.delivered_frames_per_s"),
    ("5a bare delivered frames/s", "fanout.bare.delivered_frames_per_s"),
    ("5a ratio ours/bare", "fanout.ratio"),
    ("5a ours server CPU %", "fanout.ours.server_cpu_pct"),
    ("5a bare server CPU %", "fanout.bare.server_cpu_pct"),
    ("5a ours CPU ms/send", "fanout.ours.server_cpu_ms_per_msg"),
    ("5a ours delivery p95 ms", "fanout.ours.delivery_ms.p95"),
    ("5a bare delivery p95 ms", "fanout.bare.delivery_ms.p95"),
    ("5a max client process CPU %", "fanout.fair.client_cpu_max_pct_all"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fanout-sockets", type=int, default=None, help="target 5a sockets (2000; quick 400)")
    parser.add_argument("--fanout-threads", type=int, default=4, help="target 5a threads the sockets watch")
    parser.add_argument("--fanout-senders", type=int, default=4, help="target 5a closed-loop senders")
    parser.add_argument("--fanout-clients", type=int, default=4, help="target 5a client (reader) processes")


# -- the paced sender (a process; same arguments and report as chat_bench._sender_proc) ----------------------


def paced_sender_proc(mode: str, base: str, plans: list[dict], _rate: float | None, duration: float,
                      senders: int, go, out) -> None:  # fmt: skip
    asyncio.run(_paced(mode, base, plans, duration, senders, go, out))


async def _paced(mode: str, base: str, plans: list[dict], duration: float, senders: int, go, out) -> None:
    """``senders`` closed loops: send on thread w mod T, wait for its ack, then for its frame on the pacing socket."""
    import websockets

    ws_base = "ws" + base[len("http") :]
    seen = {p["thread_id"]: 0 for p in plans}
    arrived = asyncio.Condition()
    acks: list[float] = []
    errors: list[str] = []
    last: dict[str, int] = {}
    sent = [0]

    async def pacing_reader(ws: Any, tid: str) -> None:
        async for raw in ws:
            event = json.loads(raw)
            if event.get("event_type") == "message":
                seen[tid] = max(seen[tid], event["seq"])
                async with arrived:
                    arrived.notify_all()

    pacers = [await _pacing_socket(websockets, mode, ws_base, p) for p in plans]
    readers = [asyncio.create_task(pacing_reader(ws, p["thread_id"])) for ws, p in zip(pacers, plans, strict=True)]
    client = KeepAlivePool(base, senders)  # chat_bench's senders' client: lean, so the sender is never the limit
    pubs = [
        await websockets.connect(f"{ws_base}/pub", compression=None) for _ in range(senders if mode == "bare" else 0)
    ]

    async def send(w: int, plan: dict, body: str) -> int:
        if mode == "bare":
            await pubs[w].send(json.dumps({"topic": plan["thread_id"], "body": body, "i": sent[0]}))
            return json.loads(await pubs[w].recv())["seq"]
        path = f"/v1/chat/threads/{plan['thread_id']}/messages/send"
        status, answer = await client.post_json(path, {"body": body}, {"Authorization": f"Bearer {plan['sender']}"})
        if status != 201:
            raise RuntimeError(f"{status} {answer[:120]!r}")
        return json.loads(answer)["seq"]

    async def worker(w: int) -> None:
        plan = plans[w % len(plans)]
        tid = plan["thread_id"]
        while time.monotonic() - t0 < duration:
            started = time.time() * 1000
            sent[0] += 1
            try:
                seq = await send(w, plan, f"t={started:.3f} i={w}-{sent[0]}")
                acks.append(time.time() * 1000 - started)
                last[tid] = max(last.get(tid, 0), seq)
                async with arrived:
                    await asyncio.wait_for(arrived.wait_for(lambda tid=tid, seq=seq: seen[tid] >= seq), 30)
            except Exception as exc:  # counted and reported
                errors.append(repr(exc)[:200])
                await asyncio.sleep(0.05)

    deadline = time.monotonic() + 900
    while not go.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    t0, cpu0 = time.monotonic(), process_cpu_s()
    await asyncio.gather(*(worker(w) for w in range(senders)))
    elapsed = time.monotonic() - t0
    cpu_s = process_cpu_s() - cpu0
    for ws in [*pacers, *pubs]:
        await ws.close()
    for task in readers:
        task.cancel()
    await client.close()
    out.put({"acks": acks, "errors": errors[:20], "n_errors": len(errors), "last": last, "sent": sent[0],
             "elapsed": elapsed, "ack_log": [], "error_at": [], "cpu_s": cpu_s})  # fmt: skip


async def _pacing_socket(websockets: Any, mode: str, ws_base: str, plan: dict) -> Any:
    tid = plan["thread_id"]
    if mode == "bare":
        return await websockets.connect(f"{ws_base}/sub/{tid}", compression=None, max_queue=None)
    url = f"{ws_base}/v1/chat/threads/{tid}/messages/ws?after_seq=0"
    headers = {"Authorization": f"Bearer {plan['sender']}"}
    return await websockets.connect(url, additional_headers=headers, compression=None, max_queue=None)


# -- the two runs ---------------------------------------------------------------------------------------------


def _load(cb: Any, args: argparse.Namespace, mode: str, port: int, plans: list[dict], pid: int, probe=None) -> dict:
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    return cb.run_load(mode, base, ws_base, plans, rate=None, duration=args.duration, client_procs=args.fanout_clients,
                       concurrency=args.fanout_senders, server_pid=pid, probe=probe, compression=None,
                       sender_target=paced_sender_proc)  # fmt: skip


def _ours(cb: Any, args: argparse.Namespace) -> tuple[dict, list[int]]:
    """Our server, seeded with one account per socket; returns the load result and the sockets per thread."""
    proc, port, info = cb.start_users_server("serve-fanout", args.fanout_sockets, args.fanout_threads)
    try:
        # Watcher j < threads owns thread j (chat_seed.seed_watchers): it sends there and holds the pacing socket.
        owner = {tid: info["watchers"][j]["token"] for j, tid in enumerate(info["threads"])}
        plans = [{"thread_id": tid, "sender": owner[tid],
                  "sockets": [w["token"] for w in info["watchers"] if w["thread_id"] == tid]}
                 for tid in info["threads"]]  # fmt: skip
        probe = cb.probe_for(args, proc, f"http://127.0.0.1:{port}", "fanout")
        result = _load(cb, args, "app", port, plans, proc.pid, probe)
        result["server_rss_kib"] = rss_kib(proc.pid)
    finally:
        cb.PROCS.stop(proc)
    return result, [len(p["sockets"]) for p in plans]


def _bare(cb: Any, args: argparse.Namespace, shape: list[int]) -> dict:
    port = free_port()
    cmd = [sys.executable, str(cb.BENCH / "bare_ws_server.py"), str(port)]
    proc = cb.PROCS.start(cmd, dict(os.environ), "bare-fanout", port)
    plans = [{"thread_id": f"fan{t}", "sender": "", "sockets": [""] * n} for t, n in enumerate(shape)]
    try:
        result = _load(cb, args, "bare", port, plans, proc.pid)
        result["server_rss_kib"] = rss_kib(proc.pid)
    finally:
        cb.PROCS.stop(proc)
    return result


def target(cb: Any, args: argparse.Namespace, server: str) -> dict:
    """Both runs and the fairness checks. ``cb`` is the running chat_bench module (passed in, not imported:
    run as a script it is ``__main__``, and a second import would bring a second process list and work dir)."""
    ours, shape = _ours(cb, args)
    bare = _bare(cb, args, shape)
    ratio = None
    if ours["delivered_frames_per_s"] and bare["delivered_frames_per_s"]:
        ratio = round(ours["delivered_frames_per_s"] / bare["delivered_frames_per_s"], 3)
    result = {"server": server, "sockets": sum(shape), "threads": len(shape), "shape": shape,
              "senders": args.fanout_senders, "client_procs": args.fanout_clients, "duration_s": args.duration,
              "ours": ours, "bare": bare, "ratio": ratio}  # fmt: skip
    result["fair"], result["warnings"] = fairness(ours, bare)
    print_table(result)
    return result


def fairness(ours: dict, bare: dict) -> tuple[dict, list[str]]:
    runs = {"ours": ours, "bare": bare}
    compression = {name: sorted(r["extensions"]) for name, r in runs.items()}
    client_max = {name: max((c for c in r["client_cpu_pct"] if c is not None), default=None)
                  for name, r in runs.items()}  # fmt: skip
    warnings = []
    for name, r in runs.items():
        busy = [f"client {k} {c} %" for k, c in enumerate(r["client_cpu_pct"]) if c is None or c > CLIENT_BOUND_PCT]
        if r["sender_cpu_pct"] > CLIENT_BOUND_PCT:
            busy.append(f"sender {r['sender_cpu_pct']} %")
        if busy:
            warnings.append(f"WARNING {name}: client side above {CLIENT_BOUND_PCT:g} % of a core ({', '.join(busy)}):"
                            " the figure may be client-bound")  # fmt: skip
    for name, r in runs.items():
        own, others = cpu_split(r)
        r["own_cpu_pct"], r["others_cpu_pct"] = own, others
        if (r["machine_busy_pct"] or 0) > MACHINE_BOUND_PCT:
            warnings.append(f"NOTE {name}: all {os.cpu_count()} cores {r['machine_busy_pct']} % busy (this run's "
                            f"server, clients and sender {own} % of a core, other processes {others} %): the figure is "
                            "bounded by the shared machine, not by the server alone")  # fmt: skip
    compression_ok = compression["ours"] == compression["bare"] == ["none"]
    if not compression_ok:
        warnings.append(f"WARNING compression differs or was negotiated: {compression}")
    shape_ok = ours["sockets"] == bare["sockets"] == ours["connected"] == bare["connected"]
    if not shape_ok:
        warnings.append(f"WARNING sockets connected ours {ours['connected']}/{ours['sockets']}, "
                        f"bare {bare['connected']}/{bare['sockets']}")  # fmt: skip
    fair = {"compression": compression, "compression_ok": compression_ok, "client_cpu_max_pct": client_max,
            "client_cpu_max_pct_all": max((v for v in client_max.values() if v is not None), default=None),
            "client_ok": not any(w.startswith(("WARNING ours:", "WARNING bare:")) for w in warnings),
            "machine_busy_pct": {name: r["machine_busy_pct"] for name, r in runs.items()},
            "shape_ok": shape_ok}  # fmt: skip
    return fair, warnings


def print_table(r: dict) -> None:
    per = "/".join(str(n) for n in sorted(set(r["shape"])))
    print(f"  [5a fan-out ceiling | ASGI server {r['server']}] {r['sockets']} sockets on {r['threads']} threads "
          f"(fan-out {per}) + 1 pacing socket per thread, {r['senders']} senders paced by delivery, "
          f"{r['client_procs']} client processes, {r['duration_s']:g} s", flush=True)  # fmt: skip
    head = (
        "server",
        "open",
        "sends",
        "frames",
        "frames/s",
        "ACK p95",
        "deliv p95",
        "srv CPU %",
        "CPU ms/send",
        "lost/dup/disorder",
        "compression",
        "client CPU % per proc (sum)",
        "sender CPU %",
        "machine busy %",
    )
    fmt = "    {:<18} {:>9} {:>6} {:>8} {:>9} {:>8} {:>9} {:>9} {:>11} {:>17}  {:<11} {:<27} {:>12} {:>14}"
    print(fmt.format(*head))
    for name, x in ((f"ours ({r['server']})", r["ours"]), ("bare websockets", r["bare"])):
        print(fmt.format(name, f"{x['connected']}/{x['sockets']}", x["acked"], x["frames"], x["delivered_frames_per_s"],
                         str(x["ack_ms"]["p95"]), str(x["delivery_ms"]["p95"]), str(x["server_cpu_pct"]),
                         str(x["server_cpu_ms_per_msg"]), f"{x['lost']}/{x['duplicated']}/{x['out_of_order']}",
                         ",".join(r["fair"]["compression"][name.split()[0]]),
                         _cpu_list(x["client_cpu_pct"]), x["sender_cpu_pct"], str(x["machine_busy_pct"])))  # fmt: skip
    f = r["fair"]
    print(f"    ratio ours/bare {r['ratio']} (goal >= 0.5); fairness: compression ours "
          f"{','.join(f['compression']['ours'])} / bare {','.join(f['compression']['bare'])} "
          f"{'OK' if f['compression_ok'] else 'DIFFERS'}; client processes max CPU ours "
          f"{f['client_cpu_max_pct']['ours']} % / bare {f['client_cpu_max_pct']['bare']} % "
          f"(< {CLIENT_BOUND_PCT:g} %) {'OK' if f['client_ok'] else 'CLIENT-BOUND'}; same shape "
          f"{'OK' if f['shape_ok'] else 'NO'}", flush=True)  # fmt: skip
    for warning in r["warnings"]:
        print("    " + warning, flush=True)


def cpu_split(r: dict) -> tuple[float, float | None]:
    """% of one core used by this run's own processes (server, clients, sender) and by every other process."""
    own = round((r["server_cpu_pct"] or 0) + sum(c or 0 for c in r["client_cpu_pct"]) + r["sender_cpu_pct"], 1)
    if r["machine_busy_pct"] is None:
        return own, None
    return own, round(max(0.0, r["machine_busy_pct"] * (os.cpu_count() or 1) - own), 1)


def _cpu_list(values: list[float | None]) -> str:
    total = sum(v for v in values if v is not None)
    return " ".join("-" if v is None else f"{v:g}" for v in values) + f" ({total:g})"


def verdict_rows(res: dict) -> list[tuple[str, str, str, str]]:
    if "fanout" not in res:
        return []
    r = res["fanout"]
    clean = all(r[k]["lost"] == 0 and r[k]["duplicated"] == 0 and r[k]["send_errors"] == 0 for k in ("ours", "bare"))
    fair = r["fair"]["compression_ok"] and r["fair"]["client_ok"] and r["fair"]["shape_ok"]
    ours, bare = r["ours"], r["bare"]
    text = (f"{ours['delivered_frames_per_s']} vs {bare['delivered_frames_per_s']} frames/s = {r['ratio']}"
            f" ({r['sockets']} sockets, {r['threads']} threads, server {r['server']}); lost/dup ours "
            f"{ours['lost']}/{ours['duplicated']}, bare {bare['lost']}/{bare['duplicated']}")  # fmt: skip
    ok = clean and r["ratio"] is not None and r["ratio"] >= 0.5
    return [("5a fan-out ceiling", text, "ratio >=0.5, fair, 0 lost/dup", "PASS" if ok and fair else
             ("UNFAIR" if not fair else "FAIL"))]  # fmt: skip
