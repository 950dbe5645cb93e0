"""What one idle WebSocket keeps in the server's Python heap, line by line (issue 14 point 2).

Starts the target-3 server (``bench/chat_serve_users.py``: ``--sockets`` accounts, each signed in and a member
of one of 20 threads) under ``python -X tracemalloc=N``, takes a tracemalloc snapshot (on SIGUSR1, written by
the server), connects one idle WebSocket per account from two client processes, takes a second snapshot and
prints the growth per socket: in total and by allocating line (or, with ``--traceback``, by call stack).
tracemalloc slows the server and its own bookkeeping inflates RSS, so RSS figures come from
``bench/chat_bench.py --targets 3``; this says where the bytes are.

    python bench/socket_memory.py [--sockets 1000] [--top 30] [--traceback] [--frames 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def _serve_traced(argv: list[str], snapshot_dir: str) -> None:
    """The server process: chat_serve_users with a SIGUSR1 handler that writes snapshot N to the folder."""
    taken = []

    def dump(*_: object) -> None:
        snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        n = len(taken)
        taken.append(n)
        snapshot.dump(f"{snapshot_dir}/snapshot{n}.pickle")
        Path(f"{snapshot_dir}/snapshot{n}.done").touch()

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["chat_serve_users.py", *argv]
    import chat_serve_users

    chat_serve_users.main()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--traceback", action="store_true", help="group by call stack instead of by line")
    parser.add_argument("--frames", type=int, default=10, help="tracemalloc frames kept per allocation")
    parser.add_argument("--serve", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve is not None:
        _serve_traced(args.serve[1:], args.serve[0])
        return

    import chat_bench as cb
    from stats import free_port, rss_kib

    work = tempfile.mkdtemp(prefix="gr-socket-memory-")
    port, info_path = free_port(), Path(work) / "info.json"
    cmd = [sys.executable, "-X", f"tracemalloc={args.frames}", str(Path(__file__)), "--serve", work,
           "--port", str(port), "--info", str(info_path), "--users", str(args.sockets), "--threads", "20"]  # fmt: skip
    proc = cb.PROCS.start(cmd, cb.server_env(SURREAL_ENDPOINT="mem://"), "traced", port, timeout=900)

    def snapshot(n: int) -> tracemalloc.Snapshot:
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 300
        while not Path(f"{work}/snapshot{n}.done").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the server wrote no snapshot {n} (logs in {cb.WORK})")
            time.sleep(0.2)
        return tracemalloc.Snapshot.load(f"{work}/snapshot{n}.pickle")

    try:
        info = json.loads(info_path.read_text())
        time.sleep(2)
        rss0, before = rss_kib(proc.pid), snapshot(0)
        sockets = [(w["thread_id"], w["token"]) for w in info["watchers"][: args.sockets]]
        idlers = cb.IdleClients(f"ws://127.0.0.1:{port}", sockets)
        connected = idlers.connected
        time.sleep(5)
        rss1, after = rss_kib(proc.pid), snapshot(1)
        idlers.finish()
    finally:
        cb.PROCS.stop(proc)

    key = "traceback" if args.traceback else "lineno"
    stats = after.compare_to(before, key)
    growth = sum(s.size_diff for s in stats)
    print(f"{connected} idle sockets; load average {os.getloadavg()}")
    print(f"Python heap growth {growth / connected / 1024:.2f} KiB per socket (tracemalloc); RSS growth under "
          f"tracemalloc {(rss1 - rss0) / connected:.1f} KiB per socket (inflated by its bookkeeping)")  # fmt: skip
    for s in stats[: args.top]:
        print(f"{s.size_diff / connected:8.0f} B {s.count_diff / connected:6.2f} blocks per socket  {s.traceback}")
        if args.traceback:
            for line in s.traceback.format()[-2 * args.frames :]:
                print("          ", line)


if __name__ == "__main__":
    main()
