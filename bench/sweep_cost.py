"""What one re-validation tick of the chat hub costs, by page size (issue 14 point 4).

Seeds 5,000 distinct accounts watching 20 threads (``chat_seed.seed_watchers``, the accounts' own row
builders and token code) in an embedded ``mem://`` database in this process, then times
``ChatRepository.stream_state`` (what ``Hub.revalidate_once`` reads) for pages of 100, 250, 500 and all
5,000 streams, and for the threads' ``last_seq`` alone. Not a timed test; figures depend on the load.

    python bench/sweep_cost.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def measure(rounds: int) -> None:
    import chat_seed

    from apps.accounts import tokens
    from apps.chat.repository import ChatRepository

    info = await chat_seed.seed_watchers(users=5000, threads=20, password="bench password 123", tag="sweep")
    families, users, members = [], [], []
    for watcher in info["watchers"]:
        claims = tokens.decode_access(watcher["token"])
        families.append(claims.family_id)
        users.append(claims.user_id)
        members.append([watcher["thread_id"], claims.user_id])
    threads = sorted({w["thread_id"] for w in info["watchers"]})
    repo = ChatRepository()
    print(f"load average {os.getloadavg()[0]:.2f}")
    for n in (0, 100, 250, 500, 5000):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            await repo.stream_state(families[:n], users[:n], members[:n], threads)
            times.append((time.perf_counter() - started) * 1000)
        label = f"{n} streams" if n else "threads' last_seq only"
        print(f"{label:>24}: median {statistics.median(times):7.1f} ms, max {max(times):7.1f} ms ({rounds} rounds)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
    os.environ["SURREAL_URL"] = "mem://"
    import django

    django.setup()
    from apps.core.db import get_db, run_sync
    from apps.core.db.migrations import migrate

    run_sync(migrate, get_db())
    asyncio.run(measure(args.rounds))


if __name__ == "__main__":
    main()
