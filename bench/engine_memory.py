"""How the embedded SurrealDB engine's resident memory moves with writes and reads (issue 12 point 7, the soak).

Not a test: a measurement run by hand. One process, the SDK only (no Django, no server), so what grows is the
engine (or the SDK), not the app. Each mode runs ``--ops`` operations one transaction at a time and prints the
process's VmRSS every 10,000:

- ``new``: UPSERT a new 300-byte record each time (data grows);
- ``update``: UPSERT the same 1,000 records over and over (data does not grow);
- ``read``: SELECT one record (nothing is written).

    python bench/engine_memory.py --mode update --engine surrealkv [--ops 100000]

Setting SURREAL_SURREALKV_MAX_MEMTABLE_SIZE / SURREAL_SURREALKV_BLOCK_CACHE_CAPACITY in the environment shows
whether the engine's write buffer explains the growth (docs/benchmarks.md, "Soak").
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile

from stats import rss_kib  # bench/ is on sys.path (the script's own folder)
from surrealdb import AsyncSurreal


async def run(mode: str, engine: str, ops: int) -> None:
    endpoint = f"surrealkv://{tempfile.mkdtemp()}/db" if engine == "surrealkv" else "mem://"
    db = AsyncSurreal(endpoint)
    await db.connect()
    await db.use("bench", "bench")
    await db.query("DEFINE TABLE m SCHEMALESS; CREATE m:0 CONTENT {body: 'x'};")
    body = "x" * 300
    print(f"{engine} {mode}: start {rss_kib() // 1024} MiB", flush=True)
    for n in range(1, ops + 1):
        if mode == "read":
            await db.query("SELECT * FROM ONLY m:0;")
        else:
            key = n % 1000 if mode == "update" else n
            await db.query("UPSERT type::record('m', $k) CONTENT {body: $b, n: $n};", {"k": key, "b": body, "n": n})
        if n % 10_000 == 0:
            print(f"{n:>8} ops  RSS {rss_kib() // 1024} MiB", flush=True)
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("new", "update", "read"), default="update")
    parser.add_argument("--engine", choices=("surrealkv", "mem"), default="surrealkv")
    parser.add_argument("--ops", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(run(args.mode, args.engine, args.ops))


if __name__ == "__main__":
    main()
